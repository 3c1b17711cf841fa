//! What the delivery workloads (W2, W4) run against: a Parley server, or
//! the in-process fan-out ceiling. Both get the same users, conversations,
//! connections and measurements; only how conversations come to exist
//! differs (REST calls, or just fresh ids the fan-out server learns from
//! each connection's `sync`).

use crate::ceiling::fanout::FanoutServer;
use crate::conn::{Endpoint, Sink, SourceAddrs};
use crate::fleet::{Fleet, Want, connect_all};
use crate::ident::BenchUser;
use crate::server::Server;
use anyhow::Context as _;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A user as the delivery workloads see it.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub token: String,
    user: Option<BenchUser>,
}

pub enum Backend<'a> {
    Parley(&'a Server),
    Fanout { url: String, next: AtomicU64 },
}

impl<'a> Backend<'a> {
    pub fn parley(server: &'a Server) -> Backend<'a> {
        Backend::Parley(server)
    }

    pub fn fanout(server: &FanoutServer) -> Backend<'a> {
        Backend::Fanout {
            url: server.url.clone(),
            next: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Parley(_) => "parley",
            Backend::Fanout { .. } => "ceiling-fanout",
        }
    }

    pub fn endpoint(&self) -> anyhow::Result<Endpoint> {
        match self {
            Backend::Parley(s) => Endpoint::parley(&s.url),
            Backend::Fanout { url, .. } => Endpoint::new(url, "/"),
        }
    }

    /// Opens one connection per want (over as many source addresses as they
    /// need), each synced, events to `sink`.
    pub async fn connect(
        &self,
        wants: Vec<Want>,
        sink: Arc<dyn Sink>,
        concurrency: usize,
        label: &str,
    ) -> anyhow::Result<Fleet> {
        let endpoint = self.endpoint()?;
        let sources = SourceAddrs::for_connections(wants.len());
        Ok(connect_all(&endpoint, &sources, wants, sink, concurrency, label).await)
    }

    /// The server process to read CPU and memory from.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Backend::Parley(s) => s.pid,
            Backend::Fanout { .. } => None,
        }
    }

    pub async fn people(&self, prefix: &str, n: usize) -> anyhow::Result<Vec<Person>> {
        match self {
            Backend::Parley(s) => {
                let users = s.identity.users(&s.http, prefix, n, 64).await?;
                Ok(users
                    .into_iter()
                    .map(|u| Person {
                        id: u.id.clone(),
                        token: u.token.clone(),
                        user: Some(u),
                    })
                    .collect())
            }
            Backend::Fanout { .. } => Ok((0..n)
                .map(|i| Person {
                    id: format!("{prefix}{i}"),
                    token: format!("{prefix}{i}"),
                    user: None,
                })
                .collect()),
        }
    }

    fn fresh_id(next: &AtomicU64) -> String {
        format!("c{}", next.fetch_add(1, Ordering::Relaxed))
    }

    /// A direct conversation: (id, last seq).
    pub async fn direct(&self, a: &Person, b: &Person) -> anyhow::Result<(String, u64)> {
        match self {
            Backend::Parley(_) => {
                let u = a.user.as_ref().context("no REST client")?;
                let (c, _) = u.client.create_direct(&b.id).await?;
                Ok((c.id, c.last_seq))
            }
            Backend::Fanout { next, .. } => Ok((Self::fresh_id(next), 0)),
        }
    }

    /// A group owned by `owner` with `others`: (id, last seq).
    pub async fn group(&self, owner: &Person, others: &[&Person]) -> anyhow::Result<(String, u64)> {
        match self {
            Backend::Parley(_) => {
                let u = owner.user.as_ref().context("no REST client")?;
                let ids: Vec<String> = others.iter().map(|p| p.id.clone()).collect();
                let c = u.client.create_group("bench", &ids).await?;
                Ok((c.id, c.last_seq))
            }
            Backend::Fanout { next, .. } => Ok((Self::fresh_id(next), 0)),
        }
    }

    /// Many conversations at once: `specs` are (owner, others) index lists
    /// into `people`; two people make a direct conversation.
    pub async fn conversations(
        &self,
        people: &[Person],
        specs: &[Vec<usize>],
        concurrency: usize,
    ) -> anyhow::Result<Vec<(String, u64)>> {
        stream::iter(specs.iter())
            .map(|spec| async move {
                let owner = &people[spec[0]];
                if spec.len() == 2 {
                    self.direct(owner, &people[spec[1]]).await
                } else {
                    let others: Vec<&Person> = spec[1..].iter().map(|&i| &people[i]).collect();
                    self.group(owner, &others).await
                }
            })
            .buffered(concurrency.max(1))
            .try_collect()
            .await
    }
}
