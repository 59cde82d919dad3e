//! The router's shared state: Leptos options, the database, the realtime hub, the proxy
//! settings and what server functions get through context.

use std::sync::Arc;

use app::ssr::auth::{LimitConfig, Limits};
use app::ssr::ServerContext;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::auth::ProxyConfig;
use crate::db::Database;
use crate::realtime::bus::{Bus, InProcessBus};
use crate::realtime::redis_bus::RedisBus;
use crate::realtime::{Hub, HubConfig};

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
    /// Whether this node leaves the scheduled work (reminders, pruning) to the others
    /// (`--no-reminders`; a test's stand-in for a stopped server). Default: it takes its
    /// turn.
    pub no_reminders: bool,
    /// How often scheduled work runs and how much of the change log is kept.
    pub schedule: crate::scheduler::Schedule,
    /// The bearer token `/metrics` asks for (`--metrics-token`); `None`: it is open.
    pub metrics_token: Option<String>,
    /// How long a shutdown may take after the signal (`--drain-secs`); `None`: 10 s.
    pub drain: Option<std::time::Duration>,
    /// The Redis that carries events and presence between nodes (`--redis-url`); `None`:
    /// a single node, in process.
    pub redis_url: Option<String>,
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
    /// The scheduled work this node takes its turn at ([`crate::scheduler`]); `None`
    /// with `--no-reminders`.
    pub schedule: Option<crate::scheduler::Schedule>,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<Arc<str>>,
    /// How long a shutdown may take after the signal.
    pub drain: std::time::Duration,
    /// The realtime connections carried by server-sent events, by token.
    pub sse: Arc<crate::realtime::sse::Streams>,
}

impl AppState {
    /// State for a database, with a hub whose bus is Redis when `settings.redis_url` is
    /// set and in process otherwise. Starts the hub's head check (and the bus' tasks), so
    /// it must be called inside the runtime.
    ///
    /// Errors: the Redis URL does not parse (a Redis that is down is not an error: the
    /// bus connects when it comes up).
    pub fn new(
        leptos_options: LeptosOptions,
        db: Database,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        // The metrics recorder first: what the hub records from its start is kept.
        crate::metrics::handle();
        let redis = settings
            .redis_url
            .as_deref()
            .map(RedisBus::new)
            .transpose()?;
        let bus: Arc<dyn Bus> = match &redis {
            Some(r) => r.clone(),
            None => Arc::new(InProcessBus),
        };
        let hub = Hub::new(settings.hub, bus);
        db.store.set_change_sink(hub.clone());
        hub.start(db.store.clone());
        if let Some(redis) = &redis {
            redis.attach(&hub);
        }
        let ctx = ServerContext {
            store: db.store.clone(),
            limits: Arc::new(Limits::new(&settings.limits)),
            access: hub.clone(),
            cache: hub.access_cache(),
        };
        Ok(AppState {
            leptos_options,
            db,
            ctx,
            secure_cookies: settings.secure_cookies,
            hub,
            proxy: Arc::new(settings.proxy),
            schedule: (!settings.no_reminders).then_some(settings.schedule),
            metrics_token: settings.metrics_token.map(Arc::from),
            drain: settings.drain.unwrap_or(std::time::Duration::from_secs(10)),
            sse: Arc::default(),
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
