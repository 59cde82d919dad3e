//! The error of plain axum routes (upload, health): an [`AppError`] answered with its
//! HTTP status and the same JSON body server functions use; and the middleware that
//! gives server functions' errors the same statuses.

use app::error::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An [`AppError`] as an HTTP response.
#[derive(Debug)]
pub struct HttpError(pub AppError);

impl<E: Into<AppError>> From<E> for HttpError {
    fn from(e: E) -> Self {
        HttpError(e.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(&self.0)).into_response();
        if let AppError::RateLimited { retry_after_secs } = self.0 {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        }
        res
    }
}

/// Server functions answer every error with 500 and the error's JSON body; this gives
/// each the HTTP status of its kind ([`AppError::status`]: 401, 403, 404, 409, 422, 429,
/// 400, and 500 only for internal errors), with the body unchanged, so other clients,
/// proxies and monitoring tell a refusal from a failure. Leptos' own client decodes any
/// 4xx or 5xx body as the error.
pub async fn server_fn_status(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(e.status()).unwrap_or(parts.status);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
