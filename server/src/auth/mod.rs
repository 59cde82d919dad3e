//! Request guards outside server functions: who the client is behind trusted proxies,
//! and the same-origin check for state-changing requests and WebSocket upgrades. (Who
//! is signed in, and what they may do, is `app::ssr::signed_in` and `authorize`, the
//! same for server functions, plain routes and the socket.)

pub mod proxy;

use app::ssr::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use proxy::ProxyConfig;

use crate::state::AppState;

/// Sets the client's address ([`ClientIp`], the peer's or the one a trusted proxy
/// forwarded) on every request, then refuses (403) a browser request from another
/// origin that changes state (anything but GET, HEAD, OPTIONS) or opens a WebSocket.
/// Its `Origin` must equal `--public-origin` when set, else the request's own host (as a
/// trusted proxy forwarded it). A state-changing request without `Origin` (not from a
/// browser page) passes; a WebSocket upgrade without one does not. A defence against
/// cross-site request forgery on top of the `SameSite=Lax` session cookie.
pub async fn client_and_origin(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<crate::Peer>>()
        .map(|c| c.0.addr.ip());
    let proxy = &state.proxy;
    if let Some(peer) = peer {
        let ip = proxy.client_ip(peer, req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if upgrade || changes_state {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        let allowed = match origin {
            Some(origin) => proxy.origin_allowed(origin, peer, req.headers()),
            None => !upgrade,
        };
        if !allowed {
            return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
        }
    }
    next.run(req).await
}

/// Counts each `/api/…` call of a signed-in user against their calls a second
/// (`--calls-per-user-per-second`); past it, answers 429 with the seconds to wait (in
/// `Retry-After` and the error body) without running the call. Calls made signed out
/// are left to the log-in and sign-up limits.
///
/// Who is calling comes from [`app::ssr::signed_in`], the access cache first, so a call
/// does not load its session from the database here and again in the server function.
pub async fn limit_calls(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/api/") {
        let ctx = &state.ctx;
        if let Ok(user) = app::ssr::signed_in(&*ctx.store, &ctx.cache, &session).await {
            if let Err(e) = ctx.limits.check_call(user.id) {
                return crate::error::HttpError(e).into_response();
            }
        }
    }
    next.run(req).await
}
