//! The HTTP client every outbound call goes through. The policy is
//! applied where it cannot be bypassed: host names are resolved by our own
//! resolver, which hands the connector only the addresses the policy
//! allows (so the address checked is the address connected to, whatever a
//! DNS server answers the second time); a literal address is checked
//! before the request; no proxy from the environment, no redirects, one
//! timeout for connect and answer, at most 64 KiB of the answer read.

use crate::policy::{MAX_ANSWER_BYTES, Policy};
use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use url::{Host, Url};

/// How an outbound call ended without an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the destination's address is not allowed")]
    RefusedAddress,
    #[error("timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

/// An answer: its status and the first [`MAX_ANSWER_BYTES`] of its body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// `Retry-After` in seconds, when the receiver sent one as a number.
    pub retry_after_secs: Option<u64>,
}

#[derive(Clone)]
pub struct Outbound {
    policy: Arc<Policy>,
    /// Built on the first call, off the async threads: building it reads
    /// and parses the system's trust store (a hundred and more files),
    /// which took most of the server's start-up (performance.md W7), and
    /// most servers make no outbound call for a long while, if ever.
    http: Arc<tokio::sync::OnceCell<reqwest::Client>>,
}

/// Resolves with the system resolver, keeping only allowed addresses.
struct CheckedResolver {
    policy: Arc<Policy>,
}

/// Marks a resolution that left no allowed address.
#[derive(Debug, thiserror::Error)]
#[error("every address of {0} is refused")]
struct AllRefused(String);

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let keep_all = policy.host_allowed(&host);
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| keep_all || policy.address_allowed(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(AllRefused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Outbound {
    pub fn new(policy: Policy) -> Outbound {
        Outbound {
            policy: Arc::new(policy),
            http: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    async fn http(&self) -> Result<&reqwest::Client, OutboundError> {
        self.http
            .get_or_try_init(|| {
                let policy = self.policy.clone();
                async move {
                    tokio::task::spawn_blocking(move || build_client(policy))
                        .await
                        .map_err(|e| OutboundError::Other(e.to_string()))?
                }
            })
            .await
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// `POST`s `body` with `headers`. Any status is an answer (a `3xx`
    /// included: it is not followed); the caller decides what succeeded.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answer, OutboundError> {
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.policy.address_allowed(ip)) {
            return Err(OutboundError::RefusedAddress);
        }
        let mut req = self.http().await?.post(url.clone()).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let deadline = tokio::time::Instant::now() + self.policy.timeout;
        let mut resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let retry_after_secs = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        // The body, up to the cap, within what is left of the timeout; the
        // rest is dropped with the connection.
        let mut body = BytesMut::new();
        let read = async {
            while body.len() < MAX_ANSWER_BYTES {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = MAX_ANSWER_BYTES - body.len();
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline, read).await;
        Ok(Answer {
            status,
            body: body.freeze(),
            retry_after_secs,
        })
    }
}

fn build_client(policy: Arc<Policy>) -> Result<reqwest::Client, OutboundError> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver { policy }))
        .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OutboundError::Other(e.to_string()))
}

fn classify(e: reqwest::Error) -> OutboundError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if s.is::<AllRefused>() {
            return OutboundError::RefusedAddress;
        }
        source = s.source();
    }
    if e.is_timeout() {
        OutboundError::Timeout
    } else if e.is_connect() {
        OutboundError::Connect(e.to_string())
    } else {
        OutboundError::Other(e.to_string())
    }
}
