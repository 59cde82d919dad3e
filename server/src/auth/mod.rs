//! Request guards outside server functions: the same-origin check for state-changing
//! requests, and the signed-in user of a plain axum route.

use app::error::AppError;
use app::ssr::SESSION_USER_KEY;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// Refuses (403) a state-changing request (anything but GET, HEAD, OPTIONS) that a
/// browser sent from another origin: its `Origin` header's host must equal `Host`.
/// Requests without `Origin` (not from a browser page) pass. A defence against
/// cross-site request forgery on top of the `SameSite=Lax` session cookie.
pub async fn same_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest);
        if origin_host.is_none() || origin_host != host {
            return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
        }
    }
    next.run(req).await
}

/// The signed-in user's id from the session. Errors: `Unauthorized`, `Internal`.
pub async fn session_user(session: &Session) -> Result<i64, AppError> {
    session
        .get::<i64>(SESSION_USER_KEY)
        .await
        .map_err(|e| app::ssr::internal("reading the session", e))?
        .ok_or(AppError::Unauthorized)
}
