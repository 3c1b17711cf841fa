//! Many connections at once: opened with bounded concurrency, spread over
//! source addresses, with progress on stderr.

use crate::conn::{Conn, Endpoint, Seqs, Sink, SourceAddrs};
use crate::progress::Progress;
use futures_util::{StreamExt as _, stream};
use std::sync::Arc;

/// What to open: one Bearer credential and starting seqs per connection.
pub struct Want {
    pub token: String,
    pub seqs: Seqs,
}

/// Opened connections: index i is `wants[i]` (None if it failed).
pub struct Fleet {
    pub conns: Vec<Option<Conn>>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Per opened connection: connect + `ready` (+ `sync`), microseconds.
    pub connect_us: Vec<u64>,
}

/// Opens every connection and syncs it; failures are counted, not fatal (a
/// failed connection is an error in the run's report), and the first one
/// is printed under `label`.
pub async fn connect_all(
    endpoint: &Endpoint,
    sources: &SourceAddrs,
    wants: Vec<Want>,
    sink: Arc<dyn Sink>,
    concurrency: usize,
    label: &str,
) -> Fleet {
    let total = wants.len();
    let progress = Progress::new("connecting", total as u64);
    let mut results: Vec<(usize, anyhow::Result<(Conn, u64)>)> =
        stream::iter(wants.into_iter().enumerate())
            .map(|(i, w)| {
                let sink = sink.clone();
                let progress = &progress;
                async move {
                    let t0 = crate::clock::now_us();
                    let conn =
                        Conn::connect(endpoint, sources.next(), &w.token, i, w.seqs, sink).await;
                    let conn = match conn {
                        Ok(c) => c.sync().await.map(|_| c),
                        Err(e) => Err(e),
                    };
                    progress.tick();
                    (i, conn.map(|c| (c, crate::clock::now_us() - t0)))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    progress.done();
    results.sort_by_key(|(i, _)| *i);
    let mut errors = 0;
    let mut first_error = None;
    let mut connect_us = Vec::with_capacity(total);
    let conns = results
        .into_iter()
        .map(|(_, r)| match r {
            Ok((c, us)) => {
                connect_us.push(us);
                Some(c)
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
                None
            }
        })
        .collect();
    if let Some(e) = &first_error {
        crate::progress::note(&format!("{label}: {errors} connections failed, first: {e}"));
    }
    Fleet {
        conns,
        errors,
        first_error,
        connect_us,
    }
}
