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
    /// Fill a workspace with generated customers and deals, and time its pages' queries.
    Seed(SeedArgs),
    /// Copy a SQLite database while Tandem serves it, for a restore (a new epoch: every
    /// client resyncs when the copy is served).
    Backup(BackupArgs),
}

/// Flags of `tandem backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The file to write (must not exist).
    #[arg(long)]
    pub to: PathBuf,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Flags of `tandem seed`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Slug of the workspace to fill; created if missing, owned by `--owner`.
    #[arg(long, default_value = "seed")]
    pub workspace: String,
    /// E-mail of the owner of a workspace the seed creates (an account without a password
    /// is created if needed).
    #[arg(long, default_value = "seed@example.com")]
    pub owner: String,
    /// Customers the workspace should hold (those there count).
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Deals the workspace should hold (those there count).
    #[arg(long, default_value_t = 1_000_000)]
    pub deals: usize,
    /// Members (placeholder accounts) records are spread over.
    #[arg(long, default_value_t = 35)]
    pub members: usize,
    /// The generator's seed: the same seed makes the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Activity the workspace's log should hold (those there count): generated field
    /// edits of its customers by its members, appended to its room's change log, so the
    /// activity feed can be measured at that size (`--log-rows 1000000`).
    #[arg(long, default_value_t = 0)]
    pub log_rows: usize,
    /// Then time the queries of each page (list, search, filter, sort, board, a
    /// customer's page) through the store and print p50 and p99.
    #[arg(long)]
    pub measure: bool,
    /// Runs of each query when measuring.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
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
    /// Networks of proxies (nginx, a load balancer) whose `Forwarded`, `X-Forwarded-For`
    /// and `X-Forwarded-Host` headers are believed, as CIDRs separated by commas
    /// (`10.0.0.0/8,127.0.0.1/32`). Headers from other peers are ignored.
    #[arg(long, env = "TANDEM_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies append the client's address to: `x-forwarded-for`
    /// or `forwarded` (RFC 7239). Only that one is read.
    #[arg(
        long,
        env = "TANDEM_FORWARDED_HEADER",
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: String,
    /// The origin browsers reach Tandem at (`https://crm.example.com`); when set, the
    /// same-origin check compares with it instead of the request's host.
    #[arg(long, env = "TANDEM_PUBLIC_ORIGIN")]
    pub public_origin: Option<String>,
    /// WebSockets one user may hold open at once (the fan-out benchmark needs more).
    #[arg(long, env = "TANDEM_MAX_SOCKETS_PER_USER", default_value_t = 20)]
    pub max_sockets_per_user: usize,
    /// WebSockets one client address may hold open at once.
    #[arg(long, env = "TANDEM_MAX_SOCKETS_PER_IP", default_value_t = 200)]
    pub max_sockets_per_ip: usize,
    /// Rooms one WebSocket may be subscribed to at once.
    #[arg(
        long,
        env = "TANDEM_MAX_SUBSCRIPTIONS_PER_SOCKET",
        default_value_t = 100
    )]
    pub max_subscriptions_per_socket: usize,
    /// Writing server-function calls a second one user may make, sustained (bursts of
    /// five times as many pass).
    #[arg(long, env = "TANDEM_WRITES_PER_USER_PER_SECOND", default_value_t = 20)]
    pub writes_per_user_per_second: u32,
    /// Server-function calls a second one signed-in user may make, sustained (bursts of
    /// four times as many pass); past it, 429 with the seconds to wait.
    #[arg(long, env = "TANDEM_CALLS_PER_USER_PER_SECOND", default_value_t = 50)]
    pub calls_per_user_per_second: u32,
    /// Realtime connections (WebSocket or its server-sent events fallback) a minute one
    /// user may open; past it, 429.
    #[arg(
        long,
        env = "TANDEM_CONNECTS_PER_USER_PER_MINUTE",
        default_value_t = 60
    )]
    pub connects_per_user_per_minute: u32,
    /// Sign-ups a minute from one client address.
    #[arg(long, env = "TANDEM_SIGNUPS_PER_IP_PER_MINUTE", default_value_t = 20)]
    pub signups_per_ip_per_minute: u32,
    /// Leave the scheduled work (meeting and call reminders, pruning the change log) to
    /// the other nodes (by default every node takes its turn; one at a time holds the
    /// lease, and each reminder goes out once).
    #[arg(long, env = "TANDEM_NO_REMINDERS")]
    pub no_reminders: bool,
    /// The bearer token a scrape of `/metrics` must send (`Authorization: Bearer …`);
    /// unset, `/metrics` answers anyone who reaches it.
    #[arg(long, env = "TANDEM_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) may take: sockets are told to reconnect,
    /// requests under way finish, then the process exits, at the latest after this.
    #[arg(long, env = "TANDEM_DRAIN_SECS", default_value_t = 10)]
    pub drain_secs: u64,
    /// The Redis (`redis://host:6379/`) that carries events and presence between the
    /// nodes of one deployment (all on the same PostgreSQL); unset, this node is alone.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Seconds another node's presence entries live without its heartbeat (sent every
    /// third of this): the users of a node that died leave within it.
    #[arg(long, env = "TANDEM_PRESENCE_TTL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..))]
    pub presence_ttl_secs: u64,
    /// Keep each room's last N change log events when pruning (unset: no bound by count).
    /// An event goes when it is beyond both bounds that are set; with neither set the
    /// log is kept whole. A client whose resume point was pruned resyncs; the activity
    /// feed goes back as far as the log.
    #[arg(long, env = "TANDEM_LOG_KEEP_EVENTS", value_parser = clap::value_parser!(i64).range(0..))]
    pub log_keep_events: Option<i64>,
    /// Keep change log events younger than this many days when pruning (unset: no bound
    /// by age). Pruning runs hourly on the node holding the scheduled-work lease.
    #[arg(long, env = "TANDEM_LOG_KEEP_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    pub log_keep_days: Option<u64>,
}

impl ServeArgs {
    /// The server's settings from these flags.
    ///
    /// Errors: a trusted proxy or the public origin does not parse (the message names it).
    pub fn settings(&self) -> Result<crate::state::Settings, String> {
        let defaults = crate::state::Settings::default();
        Ok(crate::state::Settings {
            secure_cookies: self.secure_cookies,
            proxy: crate::auth::ProxyConfig::parse(
                &self.trusted_proxies,
                &self.forwarded_header,
                self.public_origin.as_deref(),
            )?,
            hub: crate::realtime::HubConfig {
                max_sockets_per_user: self.max_sockets_per_user,
                max_sockets_per_ip: self.max_sockets_per_ip,
                max_subscriptions_per_socket: self.max_subscriptions_per_socket,
                presence_ttl: std::time::Duration::from_secs(self.presence_ttl_secs),
                presence_heartbeat: std::time::Duration::from_secs(self.presence_ttl_secs) / 3,
                ..defaults.hub
            },
            limits: app::ssr::auth::LimitConfig {
                writes_per_user_per_second: self.writes_per_user_per_second,
                signups_per_ip_per_minute: self.signups_per_ip_per_minute,
                calls_per_user_per_second: self.calls_per_user_per_second,
                connects_per_user_per_minute: self.connects_per_user_per_minute,
                ..defaults.limits
            },
            no_reminders: self.no_reminders,
            schedule: crate::scheduler::Schedule {
                keep_events: self.log_keep_events,
                keep_for: self
                    .log_keep_days
                    .map(|d| std::time::Duration::from_secs(d * 86_400)),
                ..defaults.schedule
            },
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
            drain: Some(std::time::Duration::from_secs(self.drain_secs)),
            redis_url: self.redis_url.clone().filter(|u| !u.is_empty()),
        })
    }
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
    /// A TOML file saying which files and columns of an export shaped differently from
    /// Maven's stand for the importer's (see the README's "Importing another CRM's
    /// export"); without it, files and columns are read under their Maven names.
    #[arg(long, value_name = "FILE.toml")]
    pub mapping: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}
