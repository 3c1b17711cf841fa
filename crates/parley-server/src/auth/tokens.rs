//! Our own tokens: short-lived access JWTs (HS256, pinned), single-use
//! gateway tickets, and opaque refresh tokens stored only as hashes.

use crate::error::{AppError, AppResult};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use parley_protocol::{Role, Timestamp};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const ISSUER: &str = "parley";
const ACCESS_AUDIENCE: &str = "parley-api";
const TICKET_AUDIENCE: &str = "parley-gateway";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session (refresh-token family) the token belongs to: logging
    /// out or a detected reuse ends it, and with it the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// `iat` in milliseconds: a ban at the same second must still refuse
    /// tokens issued just before it.
    #[serde(default)]
    iat_ms: Option<i64>,
}

impl Claims {
    fn subject(self) -> TokenSubject {
        TokenSubject {
            issued_at_ms: self.iat_ms.unwrap_or(self.iat.saturating_mul(1000)),
            role: Role::parse(&self.role).unwrap_or(Role::User),
            user_id: self.sub,
            session_id: self.sid,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenSubject {
    pub user_id: String,
    pub role: Role,
    pub session_id: Option<String>,
    pub issued_at_ms: i64,
}

#[derive(Clone)]
pub struct Tokens {
    /// Derives refresh-token successors ([`Tokens::successor`]).
    successor_key: Arc<[u8]>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl_secs: u64,
    pub ticket_ttl_secs: u64,
    /// Ticket ids already used, with their expiry (seconds), so a ticket
    /// opens at most one connection.
    used_tickets: Arc<Mutex<HashMap<String, i64>>>,
}

/// Random bytes, URL-safe base64.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn now_secs() -> i64 {
    Timestamp::now().millis() / 1000
}

impl Tokens {
    pub fn new(secret: &[u8], access_ttl_secs: u64, ticket_ttl_secs: u64) -> Tokens {
        Tokens {
            successor_key: Arc::from(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl_secs,
            ticket_ttl_secs,
            used_tickets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn issue(
        &self,
        user_id: &str,
        role: Role,
        session: Option<&str>,
        aud: &str,
        ttl: u64,
    ) -> AppResult<String> {
        let now_ms = Timestamp::now().millis();
        let now = now_ms / 1000;
        let claims = Claims {
            sid: session.map(str::to_string),
            iat_ms: Some(now_ms),
            sub: user_id.to_string(),
            role: role.as_str().to_string(),
            iss: ISSUER.to_string(),
            aud: aud.to_string(),
            iat: now,
            exp: now + ttl as i64,
            jti: random_token(12),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("signing token: {e}")))
    }

    fn check(&self, token: &str, aud: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[aud]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 5;
        decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// An access token of `session` (the refresh-token family; `None` for
    /// credentials without one).
    pub fn issue_access(
        &self,
        user_id: &str,
        role: Role,
        session: Option<&str>,
    ) -> AppResult<String> {
        self.issue(
            user_id,
            role,
            session,
            ACCESS_AUDIENCE,
            self.access_ttl_secs,
        )
    }

    pub fn verify_access(&self, token: &str) -> Option<TokenSubject> {
        self.check(token, ACCESS_AUDIENCE).map(Claims::subject)
    }

    /// A gateway ticket, of the same session as the credential it was
    /// asked with.
    pub fn issue_ticket(
        &self,
        user_id: &str,
        role: Role,
        session: Option<&str>,
    ) -> AppResult<String> {
        self.issue(
            user_id,
            role,
            session,
            TICKET_AUDIENCE,
            self.ticket_ttl_secs,
        )
    }

    /// The refresh token that replaces `old`: derived (HMAC-SHA256 under
    /// the signing secret), so that a second rotation of `old` within the
    /// grace window hands out the same successor without storing it.
    pub fn successor(&self, old: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.successor_key) {
            Ok(m) => m,
            // HMAC takes keys of any length; this cannot fail.
            Err(_) => return format!("rt_{}", random_token(32)),
        };
        mac.update(b"parley refresh successor\0");
        mac.update(old.as_bytes());
        let out = mac.finalize().into_bytes();
        format!(
            "rt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        )
    }

    /// Whether the ticket would be accepted, without using it up.
    pub fn peek_ticket(&self, ticket: &str) -> Option<TokenSubject> {
        let c = self.check(ticket, TICKET_AUDIENCE)?;
        let used = self.used_tickets.lock().ok()?;
        if used.contains_key(&c.jti) {
            return None;
        }
        Some(c.subject())
    }

    /// Valid, unexpired and not used before on any process; using it marks
    /// it used (in Redis when there is a cluster, else in memory).
    pub async fn redeem_ticket_shared(
        &self,
        ticket: &str,
        shared: Option<&crate::cluster::Shared>,
    ) -> Option<TokenSubject> {
        let Some(shared) = shared else {
            return self.redeem_ticket(ticket);
        };
        let c = self.check(ticket, TICKET_AUDIENCE)?;
        let mut conn = shared.conn.clone();
        let first: Result<Option<String>, _> = redis::cmd("SET")
            .arg(shared.ticket_key(&c.jti))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(self.ticket_ttl_secs + 30)
            .query_async(&mut conn)
            .await;
        match first {
            Ok(Some(_)) => Some(c.subject()),
            Ok(None) => None,
            // Redis down: this process's memory still stops replays here.
            Err(_) => self.redeem_ticket(ticket),
        }
    }

    /// Valid, unexpired and not used before; using it marks it used.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<TokenSubject> {
        let c = self.check(ticket, TICKET_AUDIENCE)?;
        let mut used = self.used_tickets.lock().ok()?;
        let now = now_secs();
        if used.len() > 10_000 {
            used.retain(|_, exp| *exp + 10 > now);
        }
        if used.insert(c.jti.clone(), c.exp).is_some() {
            return None;
        }
        Some(c.subject())
    }
}
