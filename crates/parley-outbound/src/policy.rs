//! Which destinations an outbound call may reach (protocol.md §12):
//! `http`/`https` only, and never loopback, private, link-local,
//! unspecified, multicast or other special-purpose addresses unless the
//! operator allows them (all, or by host name or CIDR).

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use url::{Host, Url};

/// Everything an outbound call obeys.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Connect and answer together (`--outbound-timeout`).
    pub timeout: Duration,
    /// `--outbound-allow-private`: every destination.
    pub allow_private: bool,
    /// `--outbound-allow-hosts`: host names and networks let through.
    pub allow: Vec<Allowed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// A host name, lower case, exactly.
    Host(String),
    Net(IpNet),
}

/// The most of an answer's body that is read.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(10),
            allow_private: false,
            allow: Vec::new(),
        }
    }
}

/// Why a URL is refused when it is registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not a URL")]
    NotAUrl,
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL may not carry a user name or password")]
    Credentials,
    #[error("private and special-purpose addresses are not allowed")]
    RefusedAddress,
}

impl Allowed {
    /// One entry of `--outbound-allow-hosts`: a CIDR, an address, or a
    /// host name.
    pub fn parse(s: &str) -> Option<Allowed> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Some(Allowed::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Some(Allowed::Net(IpNet::from(ip)));
        }
        let host = s.to_ascii_lowercase();
        let ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        ok.then_some(Allowed::Host(host))
    }
}

impl Policy {
    /// Whether the host name is let through whatever it resolves to.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.allow_private
            || self
                .allow
                .iter()
                .any(|a| matches!(a, Allowed::Host(h) if h.eq_ignore_ascii_case(host)))
    }

    /// Whether a call may connect to `ip`.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private
            || !is_special(ip)
            || self
                .allow
                .iter()
                .any(|a| matches!(a, Allowed::Net(n) if n.contains(&ip)))
    }

    /// Whether the operator's flags name this URL's host (by name or an
    /// address in a listed range), or allow every private destination:
    /// what lets a push endpoint be plain `http`.
    pub fn listed(&self, url: &Url) -> bool {
        if self.allow_private {
            return true;
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(name)) => return self.host_allowed(name),
            None => return false,
        };
        self.allow
            .iter()
            .any(|a| matches!(a, Allowed::Net(n) if n.contains(&ip)))
    }

    /// The check at registration: scheme, no credentials, and a host that
    /// is not a refused literal address (a host name is not resolved now;
    /// a refused resolved address fails the delivery instead).
    pub fn check_url(&self, raw: &str) -> Result<Url, UrlRefusal> {
        let url = Url::parse(raw).map_err(|_| UrlRefusal::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlRefusal::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        match url.host() {
            None => Err(UrlRefusal::NoHost),
            Some(Host::Ipv4(ip)) if !self.address_allowed(IpAddr::V4(ip)) => {
                Err(UrlRefusal::RefusedAddress)
            }
            Some(Host::Ipv6(ip)) if !self.address_allowed(IpAddr::V6(ip)) => {
                Err(UrlRefusal::RefusedAddress)
            }
            Some(_) => Ok(url),
        }
    }
}

/// Loopback, private, link-local, unspecified, multicast, broadcast,
/// shared (CGNAT), documentation, benchmarking and reserved addresses; an
/// IPv6 address that embeds an IPv4 one (mapped, NAT64) is judged by it.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                  // "this network"
        || (a == 100 && (64..128).contains(&b))    // shared address space
        || (a == 192 && b == 0 && c == 0)          // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))      // benchmarking
        || a >= 240 // reserved
}

fn special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let o = ip.octets();
        return special_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (s[0] == 0x2001 && s[1] == 0x0db8)      // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard
        || (s[0] == 0x2001 && s[1] < 0x0200)       // IETF protocol assignments (Teredo, ...)
        || s[0] == 0x2002                          // 6to4 (embeds any IPv4)
        || (s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn special_addresses_are_refused_and_public_ones_pass() {
        for s in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(is_special(ip(s)), "{s} must be refused");
        }
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_special(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn the_operator_allows_all_or_by_network_or_name() {
        let p = Policy::default();
        assert!(!p.address_allowed(ip("127.0.0.1")));
        let all = Policy {
            allow_private: true,
            ..Policy::default()
        };
        assert!(all.address_allowed(ip("10.0.0.1")));
        assert!(all.host_allowed("anything.internal"));
        let some = Policy {
            allow: ["127.0.0.0/8", "fd00::/8", "Hooks.Internal", "192.168.1.5"]
                .iter()
                .filter_map(|s| Allowed::parse(s))
                .collect(),
            ..Policy::default()
        };
        assert!(some.address_allowed(ip("127.0.0.2")));
        assert!(some.address_allowed(ip("fd00::5")));
        assert!(some.address_allowed(ip("192.168.1.5")));
        assert!(!some.address_allowed(ip("192.168.1.6")));
        assert!(some.host_allowed("hooks.internal"));
        assert!(!some.host_allowed("other.internal"));
        assert_eq!(Allowed::parse("bad host!"), None);
        assert_eq!(Allowed::parse(" "), None);
    }

    #[test]
    fn urls_are_checked_at_registration() {
        let p = Policy::default();
        assert!(p.check_url("https://hooks.example.com/in").is_ok());
        assert!(
            p.check_url("http://localhost:9/x").is_ok(),
            "names are judged when resolved"
        );
        assert_eq!(p.check_url("ftp://example.com/"), Err(UrlRefusal::Scheme));
        assert_eq!(p.check_url("javascript:alert(1)"), Err(UrlRefusal::Scheme));
        assert_eq!(p.check_url("not a url"), Err(UrlRefusal::NotAUrl));
        assert_eq!(
            p.check_url("https://user:pw@example.com/"),
            Err(UrlRefusal::Credentials)
        );
        for refused in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            assert_eq!(
                p.check_url(refused),
                Err(UrlRefusal::RefusedAddress),
                "{refused}"
            );
        }
    }
}
