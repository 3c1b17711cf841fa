//! `parley`: parses the command line and calls into the library.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parley_protocol::{Role, Timestamp};
use parley_server::config::{Config, Database, Settings};
use parley_server::store::NewUser;
use std::io::Read as _;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: a self-hosted real-time chat server"
)]
struct Cli {
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
}

fn load(cli_config: Option<&PathBuf>, flags: Settings) -> anyhow::Result<Config> {
    let file = match cli_config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    Ok(Config::from_settings(flags.over(file)?)?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve(Box::default())) {
            Command::Serve(flags) => serve(load(cli.config.as_ref(), *flags)?).await,
            Command::Migrate(flags) => {
                let config = load(cli.config.as_ref(), *flags)?;
                std::fs::create_dir_all(&config.data_dir)?;
                let n = match &config.database {
                    Database::Sqlite(path) => {
                        parley_server::store::sqlite::SqliteStore::migrate_only(path)?
                    }
                    Database::Postgres(url) => {
                        parley_server::store::postgres::PostgresStore::migrate_only(url).await?
                    }
                };
                println!("applied {n} migration(s) to {:?}", config.database);
                Ok(())
            }
            Command::Openapi => {
                println!("{}", parley_server::http::openapi_json());
                Ok(())
            }
            Command::Admin(cmd) => admin(cli.config.as_ref(), cmd).await,
        }
    })
}

async fn serve(config: Config) -> anyhow::Result<()> {
    parley_server::telemetry::init(config.json_logs);
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
    parley_server::run(listener, config, shutdown_signal()).await
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
            let config = load(cli_config, *settings)?;
            anyhow::ensure!(
                password_stdin,
                "pass --password-stdin and write the password to standard input"
            );
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let username =
                parley_server::validate::username(&username).map_err(|e| anyhow::anyhow!("{e}"))?;
            parley_server::validate::password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let role = Role::parse(&role).context("role must be user, agent or admin")?;
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let state = parley_server::build_state(config, rx).await?;
            let hash = state
                .passwords
                .hash(&password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = state
                .store
                .create_user(NewUser {
                    id: parley_server::ids::new_id(),
                    username: username.clone(),
                    display_name: username,
                    role,
                    password_hash: Some(hash),
                    external_sub: None,
                    avatar_url: None,
                    is_bot: false,
                    created_at: Timestamp::now(),
                })
                .await?;
            println!(
                "created user {} ({}) with role {}",
                user.username,
                user.id,
                role.as_str()
            );
            Ok(())
        }
        AdminCommand::CreateApiKey { name, settings } => {
            let config = load(cli_config, *settings)?;
            let label = parley_server::validate::label("name", &name, 64)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let state = parley_server::build_state(config, rx).await?;
            let key = format!("pk_{}", parley_server::auth::tokens::random_token(32));
            let user_id = parley_server::ids::new_id();
            let username: String = format!(
                "bot.{}",
                label
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(24)
                    .collect::<String>()
            );
            state
                .store
                .create_user(NewUser {
                    id: user_id.clone(),
                    username,
                    display_name: label.clone(),
                    role: Role::Admin,
                    password_hash: None,
                    external_sub: None,
                    avatar_url: None,
                    is_bot: true,
                    created_at: Timestamp::now(),
                })
                .await?;
            let hash = parley_server::auth::tokens::sha256_hex(&key);
            state
                .store
                .insert_api_key(
                    &parley_server::ids::new_id(),
                    &label,
                    &hash,
                    &user_id,
                    Timestamp::now(),
                )
                .await?;
            println!("{key}");
            eprintln!("API key for {label:?} created; it is shown only once.");
            Ok(())
        }
    }
}
