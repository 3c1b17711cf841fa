//! Building request URLs from the server's base URL.
//!
//! Kept apart from the HTTP code so that the rules are unit-tested: ids and
//! emoji become single, percent-encoded path segments (an id can never
//! smuggle a `/` or `?` into the path), and every REST path lives under
//! `/api/v1` of the base URL, which may itself carry a path prefix when the
//! server sits behind a reverse proxy.

use crate::error::{Error, Result};
use url::Url;

/// The protocol's base path (protocol.md §1).
const API_PREFIX: [&str; 2] = ["api", "v1"];

/// A validated base URL such as `http://127.0.0.1:8080`.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    url: Url,
    text: String,
}

impl BaseUrl {
    /// Accepts `http` and `https` URLs that can carry a path.
    pub(crate) fn parse(base: &str) -> Result<BaseUrl> {
        let text = base.trim().trim_end_matches('/').to_owned();
        let url =
            Url::parse(&text).map_err(|e| Error::Http(format!("bad base URL {base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(Error::Http(format!(
                "bad base URL {base:?}: expected http://HOST[:PORT]"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Http(format!(
                "bad base URL {base:?}: no query or fragment allowed"
            )));
        }
        Ok(BaseUrl { url, text })
    }

    /// The base URL as given, without a trailing slash.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// `BASE/api/v1/<segments...>`, each segment percent-encoded on its own.
    pub(crate) fn api(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Http("base URL cannot carry a path".into()))?
            .pop_if_empty()
            .extend(API_PREFIX)
            .extend(segments);
        Ok(url)
    }

    /// `BASE/api/v1` + `path` taken verbatim (it may carry a query), for
    /// [`crate::Client::raw`], whose callers want full control of the path.
    pub(crate) fn api_raw(&self, path: &str) -> Result<Url> {
        let sep = if path.starts_with('/') { "" } else { "/" };
        let text = format!("{}/{}{sep}{path}", self.text, API_PREFIX.join("/"));
        Url::parse(&text).map_err(|e| Error::Http(format!("bad path {path:?}: {e}")))
    }

    /// `ws(s)://HOST/api/v1/gateway[?ticket=...]`.
    pub(crate) fn gateway(&self, ticket: Option<&str>) -> Result<Url> {
        let mut url = self.api(&["gateway"])?;
        let scheme = if self.url.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        url.set_scheme(scheme)
            .map_err(|()| Error::Gateway(format!("cannot use {scheme} with {}", self.text)))?;
        if let Some(ticket) = ticket {
            url.query_pairs_mut().append_pair("ticket", ticket);
        }
        Ok(url)
    }
}

/// Appends the query parameters that are set, in order.
pub(crate) fn with_query(mut url: Url, params: &[(&str, Option<String>)]) -> Url {
    if params.iter().any(|(_, v)| v.is_some()) {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> BaseUrl {
        BaseUrl::parse(s).expect("valid base")
    }

    #[test]
    fn rest_paths_live_under_api_v1() {
        let b = base("http://127.0.0.1:8080/");
        assert_eq!(b.as_str(), "http://127.0.0.1:8080");
        let url = b.api(&["conversations", "c1", "members"]).expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/api/v1/conversations/c1/members"
        );
    }

    #[test]
    fn base_path_prefixes_are_kept() {
        let url = base("http://example.test/chat/")
            .api(&["users", "me"])
            .expect("url");
        assert_eq!(url.as_str(), "http://example.test/chat/api/v1/users/me");
    }

    #[test]
    fn segments_are_percent_encoded() {
        let b = base("http://h:1");
        let url = b.api(&["messages", "m1", "reactions", "👍"]).expect("url");
        assert_eq!(
            url.as_str(),
            "http://h:1/api/v1/messages/m1/reactions/%F0%9F%91%8D"
        );
        let url = b.api(&["users", "a/b?c#d e"]).expect("url");
        assert_eq!(url.as_str(), "http://h:1/api/v1/users/a%2Fb%3Fc%23d%20e");
    }

    #[test]
    fn query_parameters_skip_unset_values() {
        let url = base("http://h:1").api(&["users"]).expect("url");
        let url = with_query(
            url,
            &[
                ("query", Some("al ice&x".into())),
                ("limit", None),
                ("cursor", Some("abc".into())),
            ],
        );
        assert_eq!(
            url.as_str(),
            "http://h:1/api/v1/users?query=al+ice%26x&cursor=abc"
        );
        let plain = with_query(base("http://h:1").api(&["x"]).expect("url"), &[("a", None)]);
        assert_eq!(plain.as_str(), "http://h:1/api/v1/x");
    }

    #[test]
    fn raw_paths_are_taken_verbatim() {
        let b = base("http://h:1");
        let url = b.api_raw("/conversations?limit=5").expect("url");
        assert_eq!(url.as_str(), "http://h:1/api/v1/conversations?limit=5");
        let url = b.api_raw("users/me").expect("url");
        assert_eq!(url.as_str(), "http://h:1/api/v1/users/me");
    }

    #[test]
    fn gateway_urls_switch_scheme_and_carry_the_ticket() {
        let url = base("http://127.0.0.1:9")
            .gateway(Some("t k+/="))
            .expect("url");
        assert_eq!(
            url.as_str(),
            "ws://127.0.0.1:9/api/v1/gateway?ticket=t+k%2B%2F%3D"
        );
        let url = base("https://chat.example").gateway(None).expect("url");
        assert_eq!(url.as_str(), "wss://chat.example/api/v1/gateway");
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://h",
            "mailto:x@y",
            "http://h/?q=1",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
