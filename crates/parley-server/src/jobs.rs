//! Background jobs under one supervisor: presence announcements, typing
//! expiry, the rate limiter's cleanup, the Redis fan-out's publisher and
//! subscriber, and every job later capabilities add (webhook delivery,
//! digests, retention).
//!
//! A job is started with [`Supervisor::spawn`] and handed a
//! [`CancellationToken`]; shutdown cancels it and waits for it to return
//! (a job that does not, within the grace period, is aborted and the
//! shutdown says so). A job that ends on its own, or panics, while the
//! server runs is logged as an error: nothing runs unseen.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct Supervisor {
    stop: CancellationToken,
    // A std Mutex: held only to add a task or take the set, never across
    // an await.
    jobs: Mutex<JoinSet<()>>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            stop: CancellationToken::new(),
            jobs: Mutex::new(JoinSet::new()),
        }
    }
}

impl Supervisor {
    /// Cancelled when shutdown begins.
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Starts `job(stop)` on the runtime; it must return soon after `stop`
    /// is cancelled.
    pub fn spawn<F, Fut>(&self, name: &'static str, job: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.clone();
        let fut = job(stop.clone());
        let Ok(mut jobs) = self.jobs.lock() else {
            tracing::error!(job = name, "supervisor poisoned; job not started");
            return;
        };
        jobs.spawn(async move {
            fut.await;
            if !stop.is_cancelled() {
                tracing::error!(job = name, "background job ended while the server runs");
            }
        });
    }

    /// Jobs started and not yet finished.
    pub fn running(&self) -> usize {
        self.jobs.lock().map(|j| j.len()).unwrap_or(0)
    }

    /// Cancels every job and waits up to `grace` for them to return;
    /// returns how many had to be aborted.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.stop.cancel();
        let Ok(mut jobs) = self.jobs.lock().map(|mut j| std::mem::take(&mut *j)) else {
            return 0;
        };
        let drained = tokio::time::timeout(grace, async {
            while let Some(done) = jobs.join_next().await {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a background job panicked");
                }
            }
        })
        .await;
        let aborted = if drained.is_err() { jobs.len() } else { 0 };
        if aborted > 0 {
            tracing::warn!(aborted, "background jobs did not stop in time");
            jobs.shutdown().await;
        }
        aborted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_stops_and_awaits_every_job() {
        let s = Supervisor::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..3 {
            let tx = tx.clone();
            s.spawn("test", move |stop| async move {
                stop.cancelled().await;
                let _ = tx.send(());
            });
        }
        assert_eq!(s.running(), 3);
        assert_eq!(s.shutdown(Duration::from_secs(1)).await, 0);
        drop(tx);
        let mut stopped = 0;
        while rx.recv().await.is_some() {
            stopped += 1;
        }
        assert_eq!(stopped, 3, "each job saw the stop and returned");
        assert_eq!(s.running(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_ignores_the_stop_is_aborted_after_the_grace() {
        let s = Supervisor::default();
        s.spawn("stubborn", |_stop| std::future::pending::<()>());
        assert_eq!(s.shutdown(Duration::from_secs(2)).await, 1);
        assert_eq!(s.running(), 0);
    }
}
