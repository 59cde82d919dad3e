//! The router's shared state: Leptos options, the database and what server functions get
//! through context.

use app::ssr::ServerContext;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::db::Database;

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
}

impl AppState {
    /// State for a database, with default limits.
    pub fn new(leptos_options: LeptosOptions, db: Database, secure_cookies: bool) -> Self {
        let ctx = ServerContext {
            store: db.store.clone(),
            login_limiter: std::sync::Arc::new(app::ssr::auth::LoginLimiter::default()),
        };
        AppState {
            leptos_options,
            db,
            ctx,
            secure_cookies,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
