//! The `parley` command line: `serve` (the default), `migrate`, `admin`,
//! `openapi`. Flags, `PARLEY_*` environment variables and a TOML file make
//! one [`Config`] (flags > environment > file).

use crate::config::{Config, Settings};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parley_protocol::Role;
use std::io::Read as _;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: a self-hosted real-time chat server",
    // A flag given twice: the last one wins (a wrapper script can override
    // what it was given).
    args_override_self = true
)]
pub struct Cli {
    /// Optional TOML configuration file (flags > environment > file).
    #[arg(long, global = true, env = "PARLEY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(Box<Settings>),
    /// Apply database migrations and exit.
    Migrate(Box<Settings>),
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI document and exit.
    Openapi,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "user")]
        role: String,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Create an API key for server-to-server calls (prints it once).
    CreateApiKey {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Ban a user (by username or id): their connections close with 4003
    /// within a second on every running server, their credentials are
    /// refused, their logins answered `forbidden`.
    Ban {
        #[arg(long)]
        user: String,
        /// At most 500 characters, recorded in the audit log.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Create a support inbox (protocol.md §9); prints its id.
    CreateInbox {
        #[arg(long)]
        name: String,
        /// An IANA time zone (`Europe/Paris`, `UTC`).
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// `least_busy`, `round_robin` or `manual`.
        #[arg(long, default_value = "least_busy")]
        routing: String,
        #[arg(long)]
        max_chats_per_agent: Option<u32>,
        /// Business hours as JSON, e.g.
        /// '[{"day":"mon","open":"09:00","close":"17:00"}]' (default: always open).
        #[arg(long)]
        hours: Option<String>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Make a user (by username or id, role agent or admin) an agent of
    /// an inbox.
    AddAgent {
        #[arg(long)]
        inbox: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        max_chats: Option<u32>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Retention (protocol.md §13): run one pass now, or with --dry-run
    /// only count the messages it would make tombstones.
    Retention {
        /// Count, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// As if the time were this (RFC 3339, not earlier than now).
        #[arg(long)]
        now: Option<String>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Lift a ban (credentials issued before it stay refused).
    Unban {
        #[arg(long)]
        user: String,
        #[command(flatten)]
        settings: Box<Settings>,
    },
}

fn load(cli_config: Option<&PathBuf>, flags: Settings) -> anyhow::Result<Config> {
    let file = match cli_config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    Ok(Config::from_settings(flags.over(file)?)?)
}

/// The configuration of a `parley admin` command: the server's, without
/// the hourly retention pass (a dry run must change nothing).
fn load_admin(cli_config: Option<&PathBuf>, flags: Settings) -> anyhow::Result<Config> {
    let mut config = load(cli_config, flags)?;
    config.retention_job = false;
    Ok(config)
}

/// Parses the command line and runs what it asks for.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve(Box::default())) {
            Command::Serve(flags) => serve(load(cli.config.as_ref(), *flags)?).await,
            Command::Migrate(flags) => {
                let config = load(cli.config.as_ref(), *flags)?;
                let n = crate::migrate(&config).await?;
                println!("applied {n} migration(s) to {:?}", config.database);
                Ok(())
            }
            Command::Openapi => {
                println!("{}", crate::http::openapi_json());
                Ok(())
            }
            Command::Admin(cmd) => admin(cli.config.as_ref(), cmd).await,
        }
    })
}

async fn serve(config: Config) -> anyhow::Result<()> {
    crate::telemetry::init(config.json_logs);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/"));
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "parley listening");
    println!("Parley is running at {url}");
    crate::run(listener, config, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn admin(cli_config: Option<&PathBuf>, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateUser {
            username,
            password_stdin,
            role,
            settings,
        } => {
            let config = load_admin(cli_config, *settings)?;
            anyhow::ensure!(
                password_stdin,
                "pass --password-stdin and write the password to standard input"
            );
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let role = Role::parse(&role).context("role must be user, agent or admin")?;
            let state = crate::build_state(config).await?;
            let user = state
                .services
                .accounts
                .create_user(&username, &password, role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            println!(
                "created user {} ({}) with role {}",
                user.username,
                user.id,
                role.as_str()
            );
            Ok(())
        }
        AdminCommand::CreateApiKey { name, settings } => {
            let config = load_admin(cli_config, *settings)?;
            let state = crate::build_state(config).await?;
            let (key, label) = state
                .services
                .accounts
                .create_api_key(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            println!("{key}");
            eprintln!("API key for {label:?} created; it is shown only once.");
            Ok(())
        }
        AdminCommand::Ban {
            user,
            reason,
            settings,
        } => {
            let state = crate::build_state(load_admin(cli_config, *settings)?).await?;
            let changed = state
                .services
                .moderation
                .ban_from_cli(&user, reason.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            println!("{}", if changed? { "banned" } else { "already banned" });
            Ok(())
        }
        AdminCommand::CreateInbox {
            name,
            timezone,
            routing,
            max_chats_per_agent,
            hours,
            settings,
        } => {
            let routing = parley_protocol::support::Routing::parse(&routing)
                .context("routing must be least_busy, round_robin or manual")?;
            let hours = match hours {
                Some(h) => Some(Some(
                    serde_json::from_str(&h)
                        .context("--hours must be a JSON list of {day, open, close}")?,
                )),
                None => None,
            };
            let req = parley_protocol::support::InboxRequest {
                name: Some(name),
                timezone: Some(timezone),
                hours,
                routing: Some(routing),
                max_chats_per_agent,
                ..Default::default()
            };
            let state = crate::build_state(load_admin(cli_config, *settings)?).await?;
            let inbox = state.services.support.create_inbox(Role::Admin, req).await;
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            let inbox = inbox.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", inbox.id);
            eprintln!("inbox {:?} created", inbox.name);
            Ok(())
        }
        AdminCommand::AddAgent {
            inbox,
            user,
            max_chats,
            settings,
        } => {
            let state = crate::build_state(load_admin(cli_config, *settings)?).await?;
            let done = state
                .services
                .support
                .add_agent_from_cli(&inbox, &user, max_chats)
                .await;
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            let id = done.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{id} is an agent of {inbox}");
            Ok(())
        }
        AdminCommand::Retention {
            dry_run,
            now,
            settings,
        } => {
            let now = match now.as_deref() {
                None => None,
                Some(raw) => Some(
                    parley_protocol::Timestamp::parse(raw)
                        .context("--now must be an RFC 3339 time")?,
                ),
            };
            let state = crate::build_state(load_admin(cli_config, *settings)?).await?;
            let retention = &state.services.retention;
            let result = if dry_run {
                retention.dry_run(now).await
            } else {
                retention.run_at(None, now).await
            }
            .map_err(|e| anyhow::anyhow!("{e}"));
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            let n = result?;
            if dry_run {
                println!("{n} message(s) would become tombstones");
            } else {
                println!("{n} message(s) became tombstones");
            }
            Ok(())
        }
        AdminCommand::Unban { user, settings } => {
            let state = crate::build_state(load_admin(cli_config, *settings)?).await?;
            let changed = state
                .services
                .moderation
                .unban_from_cli(&user)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
            state.jobs.shutdown(std::time::Duration::from_secs(2)).await;
            println!("{}", if changed? { "unbanned" } else { "not banned" });
            Ok(())
        }
    }
}
