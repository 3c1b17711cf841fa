//! Where the load generator's users come from.
//!
//! Registering costs the server an Argon2id hash (tens of milliseconds of
//! CPU each), which rules out tens of thousands of users. A server the
//! bench starts itself trusts external JWTs signed with a secret the bench
//! made up (protocol.md §2, external identity), so users cost one token
//! each and are provisioned on first use. Against a running server, pass
//! its `--external-jwt-secret` to do the same, or users are registered.

use anyhow::Context as _;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use parley_sdk::Client;

#[derive(Debug, Clone)]
pub enum Identity {
    /// HS256 tokens signed with the server's external JWT secret.
    External { secret: String, run: String },
    /// `POST /auth/register` per user.
    Register,
}

/// A user the bench acts as.
#[derive(Debug, Clone)]
pub struct BenchUser {
    pub id: String,
    /// Bearer credential for REST and the gateway.
    pub token: String,
    /// A REST client with that token (sharing one connection pool).
    pub client: Client,
}

impl Identity {
    pub fn external(secret: &str) -> Identity {
        Identity::External {
            secret: secret.to_owned(),
            run: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        }
    }

    /// A Bearer token for user number `i` with `prefix`, without asking the
    /// server anything (external identity only).
    pub fn token(&self, prefix: &str, i: usize) -> Option<String> {
        self.token_with_roles(prefix, i, &[])
    }

    /// [`Identity::token`] for a user whose platform grants `roles`
    /// (`agent`, `admin`).
    pub fn token_with_roles(&self, prefix: &str, i: usize, roles: &[&str]) -> Option<String> {
        let Identity::External { secret, run } = self else {
            return None;
        };
        let sub = format!("b{run}{prefix}{i}");
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + 7 * 24 * 3600;
        let claims = if roles.is_empty() {
            serde_json::json!({ "sub": sub, "exp": exp })
        } else {
            serde_json::json!({ "sub": sub, "exp": exp, "roles": roles })
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .ok()
    }

    /// `n` users, made (or provisioned) `concurrency` at a time.
    pub async fn users(
        &self,
        base: &Client,
        prefix: &str,
        n: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<BenchUser>> {
        stream::iter(0..n)
            .map(|i| self.user(base, prefix, i))
            .buffered(concurrency.max(1))
            .try_collect()
            .await
    }

    pub async fn user(&self, base: &Client, prefix: &str, i: usize) -> anyhow::Result<BenchUser> {
        match self {
            Identity::External { .. } => {
                let token = self.token(prefix, i).context("signing a token")?;
                let client = base.with_token(&token);
                let me = client.me().await.context("provisioning an external user")?;
                Ok(BenchUser {
                    id: me.id,
                    token,
                    client,
                })
            }
            Identity::Register => register(base, prefix).await,
        }
    }
}

/// A freshly registered user (one Argon2 hash on the server).
pub async fn register(base: &Client, prefix: &str) -> anyhow::Result<BenchUser> {
    let client = base.with_token("");
    client.set_token(None);
    let name = format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let auth = client
        .register(&name, "bench password 123", None)
        .await
        .context("registering")?;
    Ok(BenchUser {
        id: auth.user.id,
        token: auth.access_token,
        client,
    })
}
