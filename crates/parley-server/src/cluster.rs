//! Shared state for running many processes as one service: the Redis
//! connection and the names of everything Parley keeps in Redis (one
//! place, so two deployments on one Redis never collide: every key starts
//! with the configured prefix).

use redis::aio::ConnectionManager;

#[derive(Clone)]
pub struct Shared {
    /// Reconnects by itself; commands fail fast while Redis is down.
    pub conn: ConnectionManager,
    pub client: redis::Client,
    prefix: String,
    /// This process, for per-process entries (presence).
    pub origin: String,
}

impl Shared {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Shared> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(1);
        // Redis may start after us (containers, boot order): keep trying for
        // a while before giving up on starting.
        let mut wait = std::time::Duration::from_millis(200);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let conn = loop {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() < deadline => {
                    tracing::warn!(error = %e, "Redis not reachable yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(3));
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Shared {
            conn,
            client,
            prefix: prefix.to_string(),
            origin: crate::ids::new_id(),
        })
    }

    pub fn fanout_channel(&self) -> String {
        format!("{}:fanout", self.prefix)
    }

    pub fn rate_key(&self, bucket: &str, key: &str) -> String {
        format!("{}:rate:{bucket}:{key}", self.prefix)
    }

    pub fn ticket_key(&self, jti: &str) -> String {
        format!("{}:ticket:{jti}", self.prefix)
    }

    /// Hash of process -> "state:expires_ms" for one user.
    pub fn presence_key(&self, user: &str) -> String {
        format!("{}:presence:{user}", self.prefix)
    }

    /// Users with presence entries (for the sweep that notices dead processes).
    pub fn presence_users_key(&self) -> String {
        format!("{}:presence_users", self.prefix)
    }

    /// The last published combined state of one user.
    pub fn presence_state_key(&self, user: &str) -> String {
        format!("{}:presence_state:{user}", self.prefix)
    }

    pub async fn ping(&self) -> bool {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
    }
}
