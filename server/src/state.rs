//! The router's shared state: Leptos options, the database, the realtime hub, the proxy
//! settings and what server functions get through context.

use std::sync::Arc;

use app::ssr::auth::{LimitConfig, Limits};
use app::ssr::ServerContext;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::auth::ProxyConfig;
use crate::db::Database;
use crate::realtime::{bus::InProcessBus, Hub, HubConfig};

/// How the server is set up beyond its database: flags of `tandem serve`, or a test's
/// choice. `Settings::default()` is what `tandem serve` does without flags.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Whether the session cookie is marked `Secure`.
    pub secure_cookies: bool,
    /// The realtime hub's timings and caps.
    pub hub: HubConfig,
    /// Rate limits and the password hashing queue.
    pub limits: LimitConfig,
    /// Trusted proxies and the public origin.
    pub proxy: ProxyConfig,
    /// Whether this node leaves sending reminders to the others (`--no-reminders`; a
    /// test's stand-in for a stopped server). Default: it sends them.
    pub no_reminders: bool,
    /// The bearer token `/metrics` asks for (`--metrics-token`); `None`: it is open.
    pub metrics_token: Option<String>,
    /// How long a shutdown may take after the signal (`--drain-secs`); `None`: 10 s.
    pub drain: Option<std::time::Duration>,
}

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' site options (output name, site root, address).
    pub leptos_options: LeptosOptions,
    /// The connected database.
    pub db: Database,
    /// What server functions get through Leptos context.
    pub ctx: ServerContext,
    /// Whether the session cookie is marked `Secure`.
    pub secure_cookies: bool,
    /// The realtime hub (also the store's change sink).
    pub hub: Arc<Hub>,
    /// Trusted proxies and the public origin.
    pub proxy: Arc<ProxyConfig>,
    /// Whether this node sends due reminders ([`crate::reminders`]).
    pub reminders: bool,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<Arc<str>>,
    /// How long a shutdown may take after the signal.
    pub drain: std::time::Duration,
}

impl AppState {
    /// State for a database with a single-node hub. Starts the hub's head check, so it
    /// must be called inside the runtime.
    pub fn new(leptos_options: LeptosOptions, db: Database, settings: Settings) -> Self {
        // The metrics recorder first: what the hub records from its start is kept.
        crate::metrics::handle();
        let hub = Hub::new(settings.hub, Arc::new(InProcessBus));
        db.store.set_change_sink(hub.clone());
        hub.start(db.store.clone());
        let ctx = ServerContext {
            store: db.store.clone(),
            limits: Arc::new(Limits::new(&settings.limits)),
            access: hub.clone(),
            cache: hub.access_cache(),
        };
        AppState {
            leptos_options,
            db,
            ctx,
            secure_cookies: settings.secure_cookies,
            hub,
            proxy: Arc::new(settings.proxy),
            reminders: !settings.no_reminders,
            metrics_token: settings.metrics_token.map(Arc::from),
            drain: settings.drain.unwrap_or(std::time::Duration::from_secs(10)),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
