//! Tandem's server: the axum router (pages, server functions, upload, health) and
//! `serve`, used by the `tandem` binary and by the integration tests.

// The pages' view types are deep: nightly (the fuzz build) needs more than the default
// 128 to lay out the shell's async blocks.
#![recursion_limit = "256"]

pub mod activity;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod import;
pub mod metrics;
pub mod notify;
pub mod realtime;
pub mod scheduler;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;

use app::{shell, App};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use state::AppState;

/// Makes the allocator return large freed blocks to the OS: glibc raises its mmap
/// threshold after the first large free, after which each password hash's 19 MiB
/// block stays cached in its thread's arena (a flood of sign-ups then holds hundreds of
/// MiB). A fixed 1 MiB threshold keeps blocks of 1 MiB and more mapped only while in
/// use. Called once at start (by `main`, and by the tests' `spawn_app`). Elsewhere
/// than glibc it does nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before heavy
    // allocation starts and takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Largest request body accepted, bytes (the CRM export is about 650 KB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tandem.sid";

/// Every route outside Leptos's pages and server functions, in the order [`router`]
/// registers them (its handlers are an array of the same length, so the two cannot
/// drift). The authorization matrix (`tests/api/authorization.rs`) needs a row for each:
/// a route added here without deciding who may call it fails that test.
pub const PLAIN_ROUTES: [&str; 8] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/import_crm",
    "/api/export_activity",
    "/ws",
    "/sse",
    "/sse/{token}",
];

/// The whole application as an axum router: pages and server functions (Leptos), the
/// [`PLAIN_ROUTES`] (the import upload, the export, `/ws` and its fallback `/sse`,
/// `/healthz`, `/readyz`, `/metrics`) and static files; with sessions, the client's
/// address and the same-origin check, server functions' error statuses,
/// compression, a body size limit and request tracing.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ctx = state.ctx.clone();
    let sessions = SessionManagerLayer::new(state.db.sessions.clone())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.secure_cookies)
        .with_expiry(Expiry::OnInactivity(Duration::days(14)));
    let options = state.leptos_options.clone();
    let files = assets::router().unwrap_or_default();
    // The site's files on disk (`target/site`; nothing but the split manifest for the
    // self-contained binary, whose files come from `files`), by tower-http's ServeDir:
    // their precompressed copies, conditional requests (a 304 while a file is unchanged)
    // and ranges. Leptos' own file handler passes on only `Accept-Encoding`, so every
    // revalidation of the 1.4 MB WASM was answered in full. What is no file (a folder
    // too) falls to Leptos' `ErrorHandler`, which renders the not-found page (the
    // composition Leptos documents for `file_and_error_handler`, without its second look
    // for the file). The files' names carry no hash, so a browser must revalidate them
    // (`no-cache`): a copy it kept by its own heuristics after an upgrade would be old
    // WASM under new HTML. The embedded files say the same (memory-serve).
    let not_found = {
        let state = state.clone();
        let options = state.leptos_options.clone();
        leptos_axum::ErrorHandler::new_with_context(
            move || provide_context(state.clone()),
            shell,
            options,
        )
    };
    let site = leptos_axum::site_pkg_dir_service(&state.leptos_options)
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found);
    let site = tower::Layer::layer(
        &SetResponseHeaderLayer::if_not_present(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ),
        site,
    );
    let handlers: [MethodRouter<AppState>; PLAIN_ROUTES.len()] = [
        get(|| async { "ok" }),
        get(ready),
        get(metrics::endpoint),
        post(import::http::upload),
        get(activity::export),
        get(realtime::socket::upgrade),
        get(realtime::sse::open),
        post(realtime::sse::post),
    ];
    let plain = PLAIN_ROUTES
        .into_iter()
        .zip(handlers)
        .fold(Router::new(), |r, (path, handler)| r.route(path, handler));
    let app = plain
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                // Before anything in the request reads its session (see RequestGeneration).
                provide_context(app::ssr::RequestGeneration(ctx.cache.generation()));
                provide_context(ctx.clone());
            },
            move || shell(options.clone()),
        )
        .merge(files)
        .fallback_service(site)
        .layer(axum::middleware::from_fn(error::server_fn_status))
        .layer(axum::middleware::from_fn(metrics::track_server_fns))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::limit_calls,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::client_and_origin,
        ))
        .layer(sessions)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        // A file sent as its precompressed copy (`cargo leptos build --precompress`) passes
        // the compression layer untouched, which then adds no `Vary`: without it a shared
        // cache could hand brotli to a client that asked for none.
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ));
    with_security_headers(app)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Adds the security headers of every response (tower-http's set-header layers):
/// `X-Content-Type-Options: nosniff`, `Referrer-Policy: strict-origin-when-cross-origin`,
/// `X-Frame-Options: DENY`, and a Content-Security-Policy without any inline script
/// for whatever did not set its own (a page sets one with its nonce: [`app::shell`]).
fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    use axum::http::header;
    let fixed = |v: &'static str| HeaderValue::from_static(v);
    let policy = HeaderValue::from_str(&app::content_security_policy(None))
        .unwrap_or_else(|_| fixed("default-src 'self'; frame-ancestors 'none'"));
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            policy,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            fixed("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            fixed("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            fixed("nosniff"),
        ))
}

/// Answers 200 when the database answers, 503 otherwise.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(state.db.sql.pool()).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Starts Tandem on a free port of 127.0.0.1 with the database at `database_url`
/// (migrated on connect), serving until the runtime ends: for tests and local tools.
/// Returns the address and the state (its store, hub and limits).
///
/// Errors: the database cannot be opened, or no port can be bound.
pub async fn spawn_local(
    database_url: &str,
    settings: state::Settings,
) -> anyhow::Result<(SocketAddr, AppState)> {
    tune_allocator();
    let db = db::connect(database_url).await?;
    let options = leptos::config::LeptosOptions::builder()
        .output_name("tandem")
        .site_root("target/site")
        .build();
    let state = AppState::new(options, db, settings)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, state.clone(), std::future::pending()));
    Ok((addr, state))
}

/// A connection as every request on it sees it (axum's connect info): the peer's address,
/// and its socket's descriptor, which a WebSocket upgrade duplicates so that the fan-out
/// can write frames straight to the socket (`realtime::outbox`'s direct path). Made by
/// `serve`'s plain TCP listener only: a listener that encrypts (TLS) must not give one.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The peer's address (before any proxy's `X-Forwarded-For`: see `auth`).
    pub addr: SocketAddr,
    fd: std::os::fd::RawFd,
}

impl Peer {
    /// A duplicate of the connection's socket (non-blocking, as the original), or None
    /// if the system refuses one. Call it only while the connection is open, as in the
    /// request's own handling or its upgrade: a descriptor of a closed connection may
    /// have been given to another since.
    pub(crate) fn socket(&self) -> Option<std::net::TcpStream> {
        // SAFETY: the descriptor is this request's connection's, open for as long as the
        // request or its upgraded stream is handled (see above); it is only borrowed to
        // be duplicated.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        fd.try_clone_to_owned().ok().map(std::net::TcpStream::from)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, NoDelay>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, NoDelay>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            fd: std::os::fd::AsRawFd::as_raw_fd(stream.io()),
        }
    }
}

/// `serve`'s listener: a TCP listener (axum's, which retries after an accept error) whose
/// every accepted connection sends at once (TCP_NODELAY): with Nagle's algorithm a small
/// frame waits while an earlier one is unacknowledged, up to the peer's delayed ACK
/// (40 ms on Linux), and a socket's frames are small and often.
struct NoDelay(tokio::net::TcpListener);

impl axum::serve::Listener for NoDelay {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        (tcp, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Serves the router on `listener` until `shutdown` completes, then drains: every socket
/// is told to reconnect later (a `reconnect` frame with a spread delay, then close 1012),
/// no new connection is accepted, requests under way finish, and the function returns
/// at the latest after the state's drain time.
/// Also deletes expired sessions every hour, prunes the rate limiters every minute and
/// runs the scheduled work ([`scheduler`]: due reminders, pruning the change log) when
/// this node holds its lease: once before the first connection is accepted (so reminders
/// due while the server was down go out first), then every pass.
///
/// Errors: the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower_sessions::session_store::ExpiredDeletion;
    let sessions = state.db.sessions.clone();
    let cleanup =
        tokio::spawn(sessions.continuously_delete_expired(tokio::time::Duration::from_secs(3600)));
    let limits = state.ctx.limits.clone();
    let prune = tokio::spawn(async move {
        let mut tick = tokio::time::interval(tokio::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.prune();
        }
    });
    let reminder_task = match &state.schedule {
        Some(schedule) => {
            let mut scheduler = scheduler::Scheduler::new(state.db.store.clone(), schedule.clone());
            scheduler.run_once(false).await;
            Some(scheduler.spawn())
        }
        None => None,
    };
    let hub = state.hub.clone();
    let drain = state.drain;
    let (draining, drained) = tokio::sync::oneshot::channel::<tokio::time::Instant>();
    // When the drain ends, once it has begun.
    let drain_until = std::sync::Arc::new(std::sync::OnceLock::new());
    let shutdown = {
        let (hub, drain_until) = (hub.clone(), drain_until.clone());
        async move {
            shutdown.await;
            let until = tokio::time::Instant::now() + drain;
            let _ = drain_until.set(until);
            let told = hub.drain();
            tracing::info!(sockets = told, "shutting down: sockets told to reconnect");
            let _ = draining.send(until);
        }
    };
    let app = router(state);
    let server = axum::serve(
        NoDelay(listener),
        app.into_make_service_with_connect_info::<Peer>(),
    )
    .with_graceful_shutdown(shutdown);
    let deadline = async move {
        match drained.await {
            Ok(until) => tokio::time::sleep_until(until).await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        r = std::future::IntoFuture::into_future(server) => r,
        () = deadline => {
            tracing::warn!("the drain time is over: exiting with connections still open");
            Ok(())
        }
    };
    // Upgraded sockets are not the HTTP server's to wait for: each closes by itself once
    // its `reconnect` frame is written; wait for them, within the drain time.
    if let Some(&until) = drain_until.get() {
        let mut tick = tokio::time::interval(tokio::time::Duration::from_millis(20));
        while hub.socket_count() > 0 && tokio::time::Instant::now() < until {
            tick.tick().await;
        }
    }
    cleanup.abort();
    prune.abort();
    if let Some(task) = reminder_task {
        task.abort();
    }
    result
}
