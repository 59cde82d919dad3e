//! The router's shared state: Leptos options, the database and what server functions get
//! through context.

use app::ssr::ServerContext;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::db::Database;
use crate::realtime::{bus::InProcessBus, Hub, HubConfig};

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
    pub hub: std::sync::Arc<Hub>,
}

impl AppState {
    /// State for a database, with default limits and a single-node hub.
    pub fn new(leptos_options: LeptosOptions, db: Database, secure_cookies: bool) -> Self {
        Self::with_hub(leptos_options, db, secure_cookies, HubConfig::default())
    }

    /// State with a hub configured as given (tests shorten its timings).
    pub fn with_hub(
        leptos_options: LeptosOptions,
        db: Database,
        secure_cookies: bool,
        hub: HubConfig,
    ) -> Self {
        let hub = Hub::new(hub, std::sync::Arc::new(InProcessBus));
        db.store.set_change_sink(hub.clone());
        let ctx = ServerContext {
            store: db.store.clone(),
            login_limiter: std::sync::Arc::new(app::ssr::auth::LoginLimiter::default()),
        };
        AppState {
            leptos_options,
            db,
            ctx,
            secure_cookies,
            hub,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
