//! Configuration: one typed struct, loaded from an optional TOML file, then
//! `PARLEY_*` environment variables, then flags (each wins over the last).
//!
//! [`Settings`] is the layer format (every field optional) shared by clap and
//! the TOML file, so a key is spelled the same everywhere: `--rate-limits`,
//! `PARLEY_RATE_LIMITS`, `rate_limits = "off"`.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "PARLEY_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Directory for the SQLite database, the secret key and media.
    #[arg(long, env = "PARLEY_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` (default: DATA_DIR/parley.db) or `postgres://...`.
    #[arg(long, env = "PARLEY_DATABASE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Turns on cross-process fan-out and shared state (`redis://HOST:PORT/DB`).
    #[arg(long, env = "PARLEY_REDIS_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (one per deployment).
    #[arg(long, env = "PARLEY_REDIS_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// The URL users reach this server at (printed, and used for Origin checks).
    #[arg(long, env = "PARLEY_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Comma-separated origins allowed to open the gateway from a browser.
    #[arg(long, env = "PARLEY_ALLOWED_ORIGINS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// `on` or `off` (off is for tests and benchmarks).
    #[arg(long, env = "PARLEY_RATE_LIMITS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<String>,
    /// One action's limit, `ACTION=COUNT/PERIOD[:BURST]` (e.g.
    /// `send=60/min:20`); repeat the flag or separate with commas. Actions:
    /// send, create_conversation, read, list_conversations, history,
    /// typing, upload, login, register, add_members, search, frames (per
    /// gateway connection).
    #[arg(long = "rate-limit", env = "PARLEY_RATE_LIMIT", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Vec<String>>,
    /// `open` or `closed`.
    #[arg(long, env = "PARLEY_REGISTRATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
    /// Secret for signing access tokens (default: generated into DATA_DIR/secret.key).
    #[arg(long, env = "PARLEY_JWT_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(long, env = "PARLEY_ACCESS_TOKEN_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
    /// Refresh token lifetime in seconds.
    #[arg(long, env = "PARLEY_REFRESH_TOKEN_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<u64>,
    /// Seconds after a rotation in which the old refresh token yields the
    /// same successor again (two tabs refreshing at once); 0: none, every
    /// reuse counts as theft.
    #[arg(long, env = "PARLEY_REFRESH_REUSE_WINDOW")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_reuse_window: Option<u64>,
    /// External JWT algorithm: HS256, RS256, ES256 or EdDSA (turns external login on).
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_ALG")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_alg: Option<String>,
    /// HS256 shared secret for external JWTs.
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_secret: Option<String>,
    /// PEM file with the public key for external JWTs.
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_PUBLIC_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_public_key: Option<PathBuf>,
    /// JWKS file with the public keys for external JWTs.
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_JWKS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_jwks: Option<PathBuf>,
    /// Required `iss` of external JWTs.
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_ISSUER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_issuer: Option<String>,
    /// Required `aud` of external JWTs.
    #[arg(long, env = "PARLEY_EXTERNAL_JWT_AUDIENCE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_jwt_audience: Option<String>,
    /// Longest message text, in Unicode scalar values.
    #[arg(long, env = "PARLEY_MESSAGE_CHARS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_chars: Option<usize>,
    /// Edit window in seconds.
    #[arg(long, env = "PARLEY_EDIT_WINDOW")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_window: Option<u64>,
    /// Largest image upload, in bytes (default 10 MiB).
    #[arg(long, env = "PARLEY_MEDIA_IMAGE_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_image_bytes: Option<u64>,
    /// Largest video upload, in bytes (default 100 MiB).
    #[arg(long, env = "PARLEY_MEDIA_VIDEO_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_video_bytes: Option<u64>,
    /// Largest upload of any other kind, in bytes (default 50 MiB).
    #[arg(long, env = "PARLEY_MEDIA_OTHER_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_other_bytes: Option<u64>,
    /// Where upload bytes are kept: `local` (DATA_DIR/media, the default)
    /// or `s3://BUCKET[/PREFIX]` (an S3-compatible bucket; every process of
    /// a cluster must use the same).
    #[arg(long, env = "PARLEY_MEDIA_STORE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_store: Option<String>,
    /// `http(s)://host:port` of an S3-compatible server (MinIO, Ceph, R2,
    /// ...); unset: AWS. Requests are path-style.
    #[arg(long, env = "PARLEY_S3_ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region (default us-east-1).
    #[arg(long, env = "PARLEY_S3_REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// Access key id (unset: the usual AWS credential sources).
    #[arg(long, env = "PARLEY_S3_ACCESS_KEY_ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key, with `s3_access_key_id`.
    #[arg(long, env = "PARLEY_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key: Option<String>,
    /// Largest group.
    #[arg(long, env = "PARLEY_GROUP_MAX_MEMBERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_max_members: Option<u32>,
    /// A conversation further behind than this is listed in `sync.done.resync`.
    #[arg(long, env = "PARLEY_SYNC_MAX_EVENTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_max_events: Option<u64>,
    /// Frames queued per gateway connection before it is closed with 4008.
    #[arg(long, env = "PARLEY_OUTBOUND_QUEUE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_queue: Option<usize>,
    /// Gateway heartbeat interval in milliseconds.
    #[arg(long, env = "PARLEY_HEARTBEAT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// Most simultaneous gateway connections.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Seconds without activity after which a connection counts as away.
    #[arg(long, env = "PARLEY_PRESENCE_IDLE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_idle: Option<u64>,
    /// Seconds an assigned support agent may be disconnected before their
    /// open chats go back to the queue (protocol.md §9, default 120).
    #[arg(long, env = "PARLEY_SUPPORT_AGENT_GRACE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_agent_grace: Option<u64>,
    /// Seconds a process's presence entries live in Redis without a refresh
    /// (a process that dies stops counting after this).
    #[arg(long, env = "PARLEY_PRESENCE_SHARED_TTL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_shared_ttl: Option<u64>,
    /// Serve the web client from this folder instead of the copy embedded
    /// in the binary (to customise it, or to work on it without rebuilding).
    #[arg(long, env = "PARLEY_WEB_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<PathBuf>,
    /// `text` or `json` logs.
    #[arg(long, env = "PARLEY_LOG_FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// Seconds a TCP connection may stay silent before its first request,
    /// between requests, or while sending a request's headers (default 10).
    #[arg(long, env = "PARLEY_IDLE_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// Most simultaneous TCP connections from one peer address (default
    /// 256). There is no trusted-proxy setting: behind a reverse proxy this
    /// counts the proxy's connections, so raise it or cap per client there.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_ip: Option<usize>,
    /// Most simultaneous TCP connections in all (default: the open-file
    /// limit less a reserve of a tenth, at least 64, for storage, Redis
    /// and the process itself).
    #[arg(long, env = "PARLEY_MAX_TCP_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tcp_connections: Option<usize>,
    /// Most simultaneous gateway connections of one user in this process
    /// (default 20); more are refused at the upgrade with 429.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_USER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_user: Option<usize>,
    /// Who `GET /users?query=` finds: `all` (anyone, by prefix; the
    /// default), `contacts` (only people you share a conversation with) or
    /// `off` (only an exact username).
    #[arg(long, env = "PARLEY_USER_DIRECTORY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_directory: Option<String>,
    /// Hosts whose https URLs may be avatars (comma-separated, `host` or
    /// `host:port`); otherwise only this server's `/api/v1/media/` paths.
    #[arg(long, env = "PARLEY_AVATAR_HOSTS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_hosts: Option<Vec<String>>,
    /// Serve `/metrics` on this address instead of the main listener.
    #[arg(long, env = "PARLEY_METRICS_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// When set, `/metrics` requires `Authorization: Bearer TOKEN`.
    #[arg(long, env = "PARLEY_METRICS_TOKEN", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
    /// Timeout of every outbound call (webhooks, push), connect and answer
    /// together: a number with `ms`, `s`, `m` or `h` (bare: seconds).
    #[arg(long, env = "PARLEY_OUTBOUND_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_timeout: Option<String>,
    /// Lets outbound calls reach loopback, private and other special
    /// addresses (tests, closed networks).
    #[arg(long, env = "PARLEY_OUTBOUND_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_allow_private: Option<bool>,
    /// Host names or CIDRs outbound calls may reach even if private.
    #[arg(long, env = "PARLEY_OUTBOUND_ALLOW_HOSTS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_allow_hosts: Option<Vec<String>>,
    /// Delays after each failed webhook attempt, comma-separated durations
    /// (default 5s,5m,30m,2h,5h,10h,10h); after the last, `failed`.
    #[arg(long, env = "PARLEY_WEBHOOK_RETRY_SCHEDULE", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_retry_schedule: Option<Vec<String>>,
    /// How long a webhook may fail without a success before it is turned
    /// off (default 5 days, e.g. `120h`).
    #[arg(long, env = "PARLEY_WEBHOOK_DISABLE_AFTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_disable_after: Option<String>,
    /// How long a push waits for a recipient who is online to read the
    /// message first (default 30s).
    #[arg(long, env = "PARLEY_PUSH_HOLD")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_hold: Option<String>,
    /// The VAPID `sub`: a `mailto:` or `https:` URL push services may
    /// contact (default the public URL when https, else
    /// mailto:parley@localhost).
    #[arg(long, env = "PARLEY_VAPID_SUBJECT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vapid_subject: Option<String>,
    /// The operator's push gateway for native apps (FCM/APNs): each
    /// notification is `POST`ed there as signed JSON.
    #[arg(long, env = "PARLEY_PUSH_GATEWAY_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_gateway_url: Option<String>,
    /// `whsec_...`: signs requests to the push gateway (Standard Webhooks).
    #[arg(long, env = "PARLEY_PUSH_GATEWAY_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_gateway_secret: Option<String>,
    /// The SMTP relay for email digests: `smtps://user:pass@host:465`
    /// (TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtp://host:25` (plain, a local relay). Unset: no email.
    #[arg(long, env = "PARLEY_SMTP_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The digests' From: `Parley <chat@example.com>` or an address.
    #[arg(long, env = "PARLEY_SMTP_FROM")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_from: Option<String>,
    /// How old an unread message is before it goes into a digest (default
    /// 15m; `notify.email_after`).
    #[arg(long, env = "PARLEY_EMAIL_AFTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_after: Option<String>,
    /// Days messages are kept (1-36500); older ones become tombstones, at
    /// start and hourly (protocol.md §13). Unset or 0: kept forever
    /// (conversations an admin gave their own retention excepted).
    #[arg(long, env = "PARLEY_RETENTION_MESSAGE_DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_message_days: Option<u32>,
}

/// A duration flag: a number with `ms`, `s`, `m` or `h`; a bare number is
/// seconds (protocol.md §12).
pub fn parse_duration(name: &str, raw: &str) -> Result<Duration, ConfigError> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let bad = || {
        ConfigError(format!(
            "{name}: {raw:?} is not a duration like 500ms, 2s, 5m or 1h"
        ))
    };
    let n: f64 = number.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

impl Settings {
    /// `self` over `lower`: every field set here wins.
    pub fn over(self, lower: Settings) -> Result<Settings, ConfigError> {
        let mut base = serde_json::to_value(lower).map_err(|e| ConfigError(e.to_string()))?;
        let top = serde_json::to_value(self).map_err(|e| ConfigError(e.to_string()))?;
        if let (Some(b), serde_json::Value::Object(t)) = (base.as_object_mut(), top) {
            for (k, v) in t {
                b.insert(k, v);
            }
        }
        serde_json::from_value(base).map_err(|e| ConfigError(e.to_string()))
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("reading {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone)]
pub enum ExternalKey {
    Secret(Secret),
    PemFile(PathBuf),
    JwksFile(PathBuf),
}

#[derive(Debug, Clone)]
pub struct ExternalJwt {
    pub algorithm: String,
    pub key: ExternalKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub message_chars: usize,
    pub edit_window_secs: u64,
    pub group_max_members: u32,
    pub sync_max_events: u64,
    pub outbound_queue: usize,
    pub max_connections: usize,
    /// Largest JSON body accepted by the REST API.
    pub body_bytes: usize,
    /// Upload limits per kind (protocol.md §10).
    pub media: parley_domain::media::MediaLimits,
}

/// Where upload bytes live.
#[derive(Debug, Clone)]
pub enum MediaStore {
    /// DATA_DIR/media.
    Local,
    /// An S3-compatible bucket (its `tmp_dir` is DATA_DIR/media/tmp).
    S3(parley_media::S3Config),
}

/// Where the data lives.
#[derive(Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for Database {
    /// Never prints a PostgreSQL password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "Postgres({u})")
                }
                Err(_) => f.write_str("Postgres(<unparsable url>)"),
            },
        }
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: Database,
    pub media_store: MediaStore,
    pub redis_url: Option<Secret>,
    pub redis_prefix: String,
    pub public_url: Option<String>,
    pub allowed_origins: Vec<String>,
    pub rate_limits: bool,
    /// Each action's rate (used when `rate_limits` is on).
    pub rates: crate::ratelimit::RateTable,
    pub registration_open: bool,
    pub jwt_secret: Option<Secret>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_reuse_window_ms: i64,
    pub ticket_ttl_secs: u64,
    pub external_jwt: Option<ExternalJwt>,
    pub limits: Limits,
    pub heartbeat_ms: u64,
    pub presence_idle_secs: u64,
    pub support_agent_grace_secs: u64,
    pub presence_shared_ttl_secs: u64,
    pub web_dir: Option<PathBuf>,
    pub json_logs: bool,
    /// How long a TCP connection may stay silent before its first request,
    /// between requests, or while sending headers.
    pub idle_timeout: Duration,
    pub max_connections_per_ip: usize,
    /// Every TCP connection, on every listener of the process.
    pub max_tcp_connections: usize,
    /// Gateway connections per user, in this process.
    pub max_connections_per_user: usize,
    pub user_directory: UserDirectory,
    /// Hosts whose https URLs may be avatars.
    pub avatar_hosts: Vec<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub metrics_token: Option<Secret>,
    /// Every outbound call's destination rules and timeout.
    pub outbound: parley_outbound::Policy,
    pub webhook_retry: parley_domain::webhooks::RetryPolicy,
    pub push: PushConfig,
    pub email: EmailConfig,
    /// `retention.message_days`; `None`: off.
    pub retention_message_days: Option<u32>,
    /// Whether this process runs the hourly retention pass (the server
    /// does; a `parley admin` command does not).
    pub retention_job: bool,
}

/// Email digests (protocol.md §12).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// The relay's URL (it may hold credentials) and the From mailbox;
    /// `None`: no digests.
    pub smtp: Option<(Secret, String)>,
    /// How old an unread message is before a digest lists it.
    pub after: Duration,
    /// The server's URL in the digests' links: `public_url`, else the
    /// address the server listens on (set when it starts).
    pub base_url: Option<String>,
}

/// Web Push (protocol.md §12).
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// How long a push for an online recipient waits.
    pub hold: Duration,
    /// The VAPID `sub` claim.
    pub vapid_subject: String,
    /// The push gateway's URL and signing secret (`whsec_...`).
    pub gateway: Option<(url::Url, Secret)>,
}

/// Who the user directory (`GET /users?query=`) finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDirectory {
    /// Anyone, by prefix of a username or display name word.
    All,
    /// Only people the caller shares a conversation with.
    Contacts,
    /// Only the user whose username is exactly the query.
    Off,
}

/// The open-file limit (`RLIMIT_NOFILE`, soft), where the platform says.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The default cap on TCP connections: the open-file limit less a reserve
/// (a tenth, at least 64) for storage, Redis, logs and the listener, so
/// that the cap is reached before `accept` fails.
fn default_tcp_connections() -> usize {
    match open_file_limit() {
        Some(n) => n.saturating_sub((n / 10).max(64)).max(16),
        None => 4096,
    }
}

impl Config {
    /// What avatars may be (`parley_domain::input::avatar_url`).
    pub fn avatar_policy(&self) -> parley_domain::input::AvatarPolicy {
        parley_domain::input::AvatarPolicy {
            own_origin: self.public_url.clone(),
            hosts: self.avatar_hosts.clone(),
        }
    }
}

fn on_off(
    name: &str,
    v: Option<&str>,
    default: bool,
    on: &str,
    off: &str,
) -> Result<bool, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) if s.eq_ignore_ascii_case(on) => Ok(true),
        Some(s) if s.eq_ignore_ascii_case(off) => Ok(false),
        Some(s) => Err(ConfigError(format!(
            "{name} must be {on} or {off}, not {s:?}"
        ))),
    }
}

impl Config {
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let listen = s.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen: {listen:?} is not an address like 127.0.0.1:8080"
            ))
        })?;
        let data_dir = s
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("parley-data"));
        let database = match s.database_url.as_deref() {
            None => Database::Sqlite(data_dir.join("parley.db")),
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(p) => Database::Sqlite(PathBuf::from(p)),
                None if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    Database::Postgres(url.to_string())
                }
                None => {
                    return Err(ConfigError(
                        "database_url: expected sqlite://PATH or postgres://...".into(),
                    ));
                }
            },
        };
        if let Some(r) = &s.redis_url
            && !(r.starts_with("redis://")
                || r.starts_with("rediss://")
                || r.starts_with("unix://"))
        {
            return Err(ConfigError("redis_url: expected redis://HOST:PORT".into()));
        }
        let external_jwt = match s.external_jwt_alg.clone() {
            None => None,
            Some(alg) => {
                let alg = alg.to_ascii_uppercase().replace("EDDSA", "EdDSA");
                if !matches!(alg.as_str(), "HS256" | "RS256" | "ES256" | "EdDSA") {
                    return Err(ConfigError(format!(
                        "external_jwt_alg: {alg} is not one of HS256, RS256, ES256, EdDSA"
                    )));
                }
                let key = match (
                    &s.external_jwt_secret,
                    &s.external_jwt_public_key,
                    &s.external_jwt_jwks,
                ) {
                    (Some(secret), None, None) if alg == "HS256" => {
                        ExternalKey::Secret(Secret(secret.clone()))
                    }
                    (None, Some(pem), None) if alg != "HS256" => ExternalKey::PemFile(pem.clone()),
                    (None, None, Some(jwks)) if alg != "HS256" => {
                        ExternalKey::JwksFile(jwks.clone())
                    }
                    _ => {
                        return Err(ConfigError(
                            "external JWT: HS256 needs external_jwt_secret; RS256/ES256/EdDSA need exactly one of external_jwt_public_key or external_jwt_jwks".into(),
                        ));
                    }
                };
                Some(ExternalJwt {
                    algorithm: alg,
                    key,
                    issuer: s.external_jwt_issuer.clone(),
                    audience: s.external_jwt_audience.clone(),
                })
            }
        };
        let media_store = media_store(&s, &data_dir)?;
        let outbound = outbound_policy(&s)?;
        let webhook_retry = retry_policy(&s)?;
        let push = push_config(&s)?;
        let email = email_config(&s)?;
        let retention_message_days = match s.retention_message_days {
            None | Some(0) => None,
            Some(days) => Some(
                parley_domain::retention::check_days("retention_message_days", days)
                    .map_err(|e| ConfigError(e.to_string()))?,
            ),
        };
        Ok(Config {
            listen,
            data_dir,
            database,
            media_store,
            redis_url: s.redis_url.map(Secret),
            redis_prefix: s.redis_prefix.unwrap_or_else(|| "parley".into()),
            public_url: s.public_url,
            allowed_origins: s.allowed_origins.unwrap_or_default(),
            rate_limits: on_off("rate_limits", s.rate_limits.as_deref(), true, "on", "off")?,
            rates: crate::ratelimit::RateTable::with_overrides(
                s.rate_limit.as_deref().unwrap_or_default(),
            )
            .map_err(|e| ConfigError(format!("rate_limit: {e}")))?,
            registration_open: on_off(
                "registration",
                s.registration.as_deref(),
                true,
                "open",
                "closed",
            )?,
            jwt_secret: s.jwt_secret.map(Secret),
            access_token_ttl_secs: s.access_token_ttl.unwrap_or(15 * 60).max(1),
            refresh_token_ttl_secs: s.refresh_token_ttl.unwrap_or(30 * 24 * 3600).max(1),
            refresh_reuse_window_ms: s
                .refresh_reuse_window
                .map(|secs| secs.min(300) as i64 * 1000)
                .unwrap_or(parley_domain::users::REFRESH_GRACE_MS),
            ticket_ttl_secs: 30,
            external_jwt,
            limits: Limits {
                message_chars: s.message_chars.unwrap_or(10_000).max(1),
                edit_window_secs: s.edit_window.unwrap_or(48 * 3600),
                group_max_members: s.group_max_members.unwrap_or(1024).max(3),
                sync_max_events: s.sync_max_events.unwrap_or(1000).max(1),
                outbound_queue: s.outbound_queue.unwrap_or(4096).max(16),
                max_connections: s.max_connections.unwrap_or(200_000).max(1),
                body_bytes: 1024 * 1024,
                media: {
                    let d = parley_domain::media::MediaLimits::default();
                    parley_domain::media::MediaLimits {
                        image_bytes: s.media_image_bytes.unwrap_or(d.image_bytes).max(1),
                        video_bytes: s.media_video_bytes.unwrap_or(d.video_bytes).max(1),
                        other_bytes: s.media_other_bytes.unwrap_or(d.other_bytes).max(1),
                    }
                },
            },
            heartbeat_ms: s.heartbeat_ms.unwrap_or(25_000).max(100),
            presence_idle_secs: s.presence_idle.unwrap_or(300).max(1),
            support_agent_grace_secs: s.support_agent_grace.unwrap_or(120).max(1),
            presence_shared_ttl_secs: s.presence_shared_ttl.unwrap_or(30).max(1),
            web_dir: s.web_dir,
            json_logs: on_off("log_format", s.log_format.as_deref(), false, "json", "text")?,
            idle_timeout: Duration::from_secs(s.idle_timeout.unwrap_or(10).max(1)),
            max_connections_per_ip: s.max_connections_per_ip.unwrap_or(256).max(1),
            max_tcp_connections: s
                .max_tcp_connections
                .unwrap_or_else(default_tcp_connections)
                .max(1),
            max_connections_per_user: s.max_connections_per_user.unwrap_or(20).max(1),
            user_directory: match s.user_directory.as_deref() {
                None | Some("all") => UserDirectory::All,
                Some("contacts") => UserDirectory::Contacts,
                Some("off") => UserDirectory::Off,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "user_directory must be all, contacts or off, not {other:?}"
                    )));
                }
            },
            avatar_hosts: avatar_hosts(s.avatar_hosts.unwrap_or_default())?,
            metrics_listen: match s.metrics_listen.as_deref() {
                None => None,
                Some(a) => Some(a.parse().map_err(|_| {
                    ConfigError(format!(
                        "metrics_listen: {a:?} is not an address like 127.0.0.1:9090"
                    ))
                })?),
            },
            metrics_token: match s.metrics_token {
                Some(t) if t.len() < 16 => {
                    return Err(ConfigError(
                        "metrics_token must be at least 16 characters".into(),
                    ));
                }
                t => t.map(Secret),
            },
            outbound,
            webhook_retry,
            push,
            email,
            retention_message_days,
            retention_job: true,
        })
    }

    /// Defaults plus overrides, for tests and embedding.
    pub fn for_data_dir(data_dir: &Path) -> Config {
        Config::from_settings(Settings {
            data_dir: Some(data_dir.to_path_buf()),
            ..Settings::default()
        })
        .unwrap_or_else(|_| unreachable!("defaults are valid"))
    }
}

fn outbound_policy(s: &Settings) -> Result<parley_outbound::Policy, ConfigError> {
    let timeout = match s.outbound_timeout.as_deref() {
        None => Duration::from_secs(10),
        Some(raw) => parse_duration("outbound_timeout", raw)?,
    };
    if timeout.is_zero() || timeout > Duration::from_secs(300) {
        return Err(ConfigError(
            "outbound_timeout must be more than 0 and at most 5m".into(),
        ));
    }
    let mut allow = Vec::new();
    for h in s.outbound_allow_hosts.iter().flatten() {
        if h.trim().is_empty() {
            continue;
        }
        allow.push(parley_outbound::Allowed::parse(h).ok_or_else(|| {
            ConfigError(format!(
                "outbound_allow_hosts: {h:?} is not a host name, an address or a CIDR"
            ))
        })?);
    }
    Ok(parley_outbound::Policy {
        timeout,
        allow_private: s.outbound_allow_private.unwrap_or(false),
        allow,
    })
}

fn email_config(s: &Settings) -> Result<EmailConfig, ConfigError> {
    let after = match s.email_after.as_deref() {
        None => Duration::from_secs(15 * 60),
        Some(raw) => parse_duration("email_after", raw)?,
    };
    if after > Duration::from_secs(7 * 24 * 3600) {
        return Err(ConfigError("email_after must be at most 168h".into()));
    }
    let smtp = match (&s.smtp_url, &s.smtp_from) {
        (None, None) => None,
        (Some(url), Some(from)) => {
            // Only the shape: the URL may hold a password, never echoed.
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host().is_some());
            if !ok {
                return Err(ConfigError(
                    "smtp_url must be smtp://host:port or smtps://host:port".into(),
                ));
            }
            if from.trim().is_empty() {
                return Err(ConfigError("smtp_from must be an address".into()));
            }
            Some((Secret(url.clone()), from.trim().to_string()))
        }
        _ => {
            return Err(ConfigError("smtp_url and smtp_from go together".into()));
        }
    };
    Ok(EmailConfig {
        smtp,
        after,
        base_url: s.public_url.clone(),
    })
}

fn push_config(s: &Settings) -> Result<PushConfig, ConfigError> {
    let hold = match s.push_hold.as_deref() {
        None => Duration::from_secs(30),
        Some(raw) => parse_duration("push_hold", raw)?,
    };
    if hold > Duration::from_secs(24 * 3600) {
        return Err(ConfigError("push_hold must be at most 24h".into()));
    }
    let vapid_subject = match (&s.vapid_subject, &s.public_url) {
        (Some(v), _) => {
            let ok = (v.starts_with("mailto:") && v.len() > "mailto:".len())
                || url::Url::parse(v).is_ok_and(|u| u.scheme() == "https");
            if !ok {
                return Err(ConfigError(
                    "vapid_subject must be a mailto: or https: URL".into(),
                ));
            }
            v.clone()
        }
        (None, Some(public)) if public.starts_with("https://") => public.clone(),
        (None, _) => "mailto:parley@localhost".into(),
    };
    let gateway = match (&s.push_gateway_url, &s.push_gateway_secret) {
        (None, None) => None,
        (Some(url), Some(secret)) => {
            let url = url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| ConfigError("push_gateway_url must be an http(s) URL".into()))?;
            if parley_outbound::SigningKey::parse(secret).is_none() {
                return Err(ConfigError(
                    "push_gateway_secret must be whsec_ and the base64 of 24 to 64 bytes".into(),
                ));
            }
            Some((url, Secret(secret.clone())))
        }
        _ => {
            return Err(ConfigError(
                "push_gateway_url and push_gateway_secret go together".into(),
            ));
        }
    };
    Ok(PushConfig {
        hold,
        vapid_subject,
        gateway,
    })
}

fn retry_policy(s: &Settings) -> Result<parley_domain::webhooks::RetryPolicy, ConfigError> {
    let mut policy = parley_domain::webhooks::RetryPolicy::default();
    if let Some(steps) = &s.webhook_retry_schedule {
        policy.schedule_ms = steps
            .iter()
            .filter(|x| !x.trim().is_empty())
            .map(|x| {
                parse_duration("webhook_retry_schedule", x)
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            })
            .collect::<Result<_, _>>()?;
        if policy.schedule_ms.len() > 50 {
            return Err(ConfigError(
                "webhook_retry_schedule: at most 50 retries".into(),
            ));
        }
    }
    if let Some(raw) = &s.webhook_disable_after {
        let d = parse_duration("webhook_disable_after", raw)?;
        policy.disable_after_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
    }
    Ok(policy)
}

/// `local` or `s3://BUCKET[/PREFIX]` with the `s3_*` settings.
fn media_store(s: &Settings, data_dir: &Path) -> Result<MediaStore, ConfigError> {
    let url = match s.media_store.as_deref() {
        None | Some("local") => {
            if s.s3_endpoint.is_some() || s.s3_access_key_id.is_some() {
                return Err(ConfigError(
                    "s3_endpoint and s3_access_key_id need media_store = s3://BUCKET".into(),
                ));
            }
            return Ok(MediaStore::Local);
        }
        Some(url) => url,
    };
    let (bucket, prefix) = parley_media::S3Config::parse_url(url)
        .map_err(|e| ConfigError(format!("media_store: {e}")))?;
    if let Some(endpoint) = &s.s3_endpoint {
        let ok = url::Url::parse(endpoint).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        });
        if !ok {
            return Err(ConfigError(format!(
                "s3_endpoint: {endpoint:?} is not a URL like https://s3.example:9000"
            )));
        }
    }
    if s.s3_access_key_id.is_some() != s.s3_secret_access_key.is_some() {
        return Err(ConfigError(
            "s3_access_key_id and s3_secret_access_key go together".into(),
        ));
    }
    Ok(MediaStore::S3(parley_media::S3Config {
        bucket,
        prefix,
        endpoint: s
            .s3_endpoint
            .clone()
            .map(|e| e.trim_end_matches('/').to_string()),
        region: s.s3_region.clone().unwrap_or_else(|| "us-east-1".into()),
        access_key_id: s.s3_access_key_id.clone(),
        secret_access_key: s.s3_secret_access_key.clone(),
        tmp_dir: data_dir.join("media").join("tmp"),
    }))
}

/// `host` or `host:port`, lower-cased: these go into the CSP as they are,
/// so nothing but host characters is taken.
fn avatar_hosts(hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
    hosts
        .into_iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .map(|h| {
            let ok = url::Url::parse(&format!("https://{h}/")).is_ok_and(|u| {
                u.host_str().is_some() && u.path() == "/" && u.username().is_empty()
            }) && h.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
            if ok {
                Ok(h)
            } else {
                Err(ConfigError(format!(
                    "avatar_hosts: {h:?} is not a host like img.example or img.example:8443"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        let d = |s: &str| parse_duration("x", s).map(|d| d.as_millis());
        assert_eq!(d("2s").ok(), Some(2_000));
        assert_eq!(d("500ms").ok(), Some(500));
        assert_eq!(d("5m").ok(), Some(300_000));
        assert_eq!(d("1h").ok(), Some(3_600_000));
        assert_eq!(d("7").ok(), Some(7_000));
        assert_eq!(d("1.5s").ok(), Some(1_500));
        for bad in ["", "s", "2 days", "-1s", "1d", "1e9999"] {
            assert!(d(bad).is_err(), "{bad:?} is refused");
        }
        let c = Config::from_settings(Settings {
            webhook_retry_schedule: Some(vec!["1s".into(), "250ms".into()]),
            outbound_timeout: Some("3s".into()),
            outbound_allow_hosts: Some(vec!["127.0.0.1".into(), "hooks.internal".into()]),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(c.webhook_retry.schedule_ms, vec![1_000, 250]);
        assert_eq!(c.outbound.timeout, Duration::from_secs(3));
        assert_eq!(c.outbound.allow.len(), 2);
        assert!(!c.outbound.allow_private);
    }

    #[test]
    fn flags_win_over_file() {
        let file = Settings {
            listen: Some("127.0.0.1:1".into()),
            rate_limits: Some("off".into()),
            ..Default::default()
        };
        let flags = Settings {
            listen: Some("127.0.0.1:2".into()),
            ..Default::default()
        };
        let merged = flags.over(file).expect("merges");
        let c = Config::from_settings(merged).expect("valid");
        assert_eq!(c.listen.port(), 2);
        assert!(!c.rate_limits);
    }

    #[test]
    fn bad_values_are_refused() {
        let s = Settings {
            rate_limits: Some("maybe".into()),
            ..Default::default()
        };
        assert!(Config::from_settings(s).is_err());
        let s = Settings {
            listen: Some("nowhere".into()),
            ..Default::default()
        };
        assert!(Config::from_settings(s).is_err());
    }

    #[test]
    fn media_store_settings() {
        let s3 = |store: &str, endpoint: Option<&str>, id: Option<&str>, key: Option<&str>| {
            Config::from_settings(Settings {
                media_store: Some(store.into()),
                s3_endpoint: endpoint.map(Into::into),
                s3_access_key_id: id.map(Into::into),
                s3_secret_access_key: key.map(Into::into),
                ..Default::default()
            })
        };
        let c = s3(
            "s3://media/parley",
            Some("http://127.0.0.1:9000/"),
            Some("id"),
            Some("hunter2-secret"),
        )
        .expect("valid");
        let MediaStore::S3(cfg) = &c.media_store else {
            panic!("an s3 store: {:?}", c.media_store);
        };
        assert_eq!(
            (cfg.bucket.as_str(), cfg.prefix.as_str()),
            ("media", "parley")
        );
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(
            !format!("{c:?}").contains("hunter2-secret"),
            "the secret key never prints"
        );
        assert!(matches!(
            s3("local", None, None, None).map(|c| c.media_store),
            Ok(MediaStore::Local)
        ));
        assert!(s3("s3://media", Some("ftp://x"), None, None).is_err());
        assert!(s3("s3://media", Some("http://u:p@x"), None, None).is_err());
        assert!(
            s3("s3://media", None, Some("id"), None).is_err(),
            "a key id without its secret"
        );
        assert!(s3("s3://Bad_Bucket", None, None, None).is_err());
        assert!(s3("local", Some("http://127.0.0.1:9000"), None, None).is_err());
        assert!(s3("gs://media", None, None, None).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn email_settings() {
        let email = |url: Option<&str>, from: Option<&str>, after: Option<&str>| {
            Config::from_settings(Settings {
                smtp_url: url.map(str::to_string),
                smtp_from: from.map(str::to_string),
                email_after: after.map(str::to_string),
                ..Default::default()
            })
            .map(|c| c.email)
        };
        let off = email(None, None, None).expect("no SMTP");
        assert!(off.smtp.is_none());
        assert_eq!(off.after, Duration::from_secs(900), "15 minutes by default");
        let on = email(
            Some("smtps://user:hunter2@mail.example.com:465"),
            Some("Parley <chat@example.com>"),
            Some("5m"),
        )
        .expect("SMTP");
        assert_eq!(on.after, Duration::from_secs(300));
        assert!(
            !format!("{on:?}").contains("hunter2"),
            "the relay's password never prints"
        );
        assert!(
            email(Some("smtp://mail.example.com"), None, None).is_err(),
            "a URL without a From"
        );
        assert!(
            email(None, Some("chat@example.com"), None).is_err(),
            "a From without a URL"
        );
        assert!(email(Some("http://mail.example.com"), Some("a@b.c"), None).is_err());
        assert!(email(None, None, Some("400h")).is_err());
    }
}
