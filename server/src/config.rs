//! Command-line flags with environment fallbacks (clap): `tandem serve` (the default) and
//! `tandem import`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `tandem`: a self-hosted realtime workspace for sales and support teams.
#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The subcommand to run, `serve` with the top-level flags when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app, server functions and health checks.
    Serve(ServeArgs),
    /// Import the Maven CRM CSV export into a workspace.
    Import(ImportArgs),
}

/// The database to use.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// `sqlite://path` (created with its folder if missing) or `postgres://user:pw@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tandem.db")]
    pub database_url: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `tandem serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Mark the session cookie `Secure` (set this when served over HTTPS).
    #[arg(long, env = "TANDEM_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// Log format.
    #[arg(long, env = "TANDEM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Flags of `tandem import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Folder holding accounts.csv, products.csv, sales_teams.csv and sales_pipeline.csv.
    pub folder: PathBuf,
    /// Slug of the workspace to import into; created if missing (then `--owner` is needed).
    #[arg(long)]
    pub workspace: String,
    /// E-mail of the owner of a workspace the import creates (an account is created for
    /// it if needed; its invite link is in the report).
    #[arg(long)]
    pub owner: Option<String>,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}
