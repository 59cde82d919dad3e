//! `POST /api/import_crm?workspace={slug}`: the upload page sends the CSV files (and the
//! column mapping) as multipart form data and gets the import report as JSON, or, when it
//! asks for `application/x-ndjson`, the progress as it goes and then the report (a plain
//! axum route, because a file upload does not fit a JSON server function).

use std::collections::BTreeMap;
use std::sync::Arc;

use app::error::AppError;
use app::model::import::{ImportMapping, UploadLine};
use app::model::Role;
use axum::body::Body;
use axum::extract::{Multipart, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tower_sessions::Session;

use crate::error::HttpError;
use crate::state::AppState;

/// The query string of the upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// Slug of the workspace to import into.
    pub workspace: String,
}

/// Imports uploaded CSV files (each part's file name says which file it is) into a
/// workspace the caller administers. A part named `mapping` holds the column mapping as
/// JSON ([`ImportMapping`]): it is used and saved as the workspace's; without one the
/// saved mapping is used.
///
/// Errors: 401 not signed in; 404 no such workspace or not a member; 403 not an admin;
/// 422 no files, a file that is not UTF-8 text, a mapping that does not parse or names
/// what the importer does not read, or a malformed upload; 500 when the database fails
/// (in a streamed answer: an `error` line).
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
    mut multipart: Multipart,
) -> Result<Response, HttpError> {
    let (store, cache) = (state.ctx.store.clone(), state.ctx.cache.clone());
    let user = app::ssr::signed_in(&*store, &cache, &session).await?;
    let me = app::ssr::Me { user, store, cache };
    let caller = app::ssr::authorize(me, &q.workspace, Role::Admin).await?;
    let store = caller.store.clone();
    let (ws, user) = (caller.workspace, caller.user.id);
    let bad = |field: &str, m: String| AppError::invalid(field, m);
    let mut files = BTreeMap::new();
    let mut mapping = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad("files", format!("the upload is malformed: {e}")))?
    {
        if field.name() == Some("mapping") {
            let text = field
                .text()
                .await
                .map_err(|e| bad("mapping", format!("the mapping could not be read: {e}")))?;
            let m: ImportMapping = serde_json::from_str(&text)
                .map_err(|e| bad("mapping", format!("the mapping is not valid: {e}")))?;
            m.check().map_err(|e| bad("mapping", e))?;
            mapping = Some(m);
            continue;
        }
        let name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .unwrap_or_else(|| field.name().unwrap_or_default().to_string());
        let bytes = field
            .bytes()
            .await
            .map_err(|e| bad("files", format!("{name} could not be read: {e}")))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| bad("files", format!("{name} is not UTF-8 text")))?;
        files.insert(name, text);
    }
    if files.is_empty() {
        return Err(bad("files", "choose the CSV files to import".into()).into());
    }
    let mapping = match mapping {
        Some(m) => {
            store.save_import_mapping(ws.id, &m).await?;
            m
        }
        None => store.import_mapping(ws.id).await?,
    };
    let streamed = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/x-ndjson"));
    if !streamed {
        let report = super::import_files(&*store, &ws, Some(user), &files, &mapping, &|_, _, _| {})
            .await
            .map_err(|e| app::ssr::internal("an import", e))?;
        return Ok(Json(report).into_response());
    }
    // The import runs on its own task and sends its lines here; the body streams them.
    let (tx, rx) = mpsc::unbounded_channel::<UploadLine>();
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let progress = move |file: &str, done: u64, total: u64| {
            let _ = progress_tx.send(UploadLine::Progress {
                file: file.to_string(),
                done,
                total,
            });
        };
        let store: Arc<dyn app::ssr::Store> = store;
        let last = match super::import_files(&*store, &ws, Some(user), &files, &mapping, &progress)
            .await
        {
            Ok(report) => UploadLine::Report(report),
            Err(e) => UploadLine::Error(app::ssr::internal("an import", e)),
        };
        let _ = tx.send(last);
    });
    // Fused: the compression layer polls once more after the end.
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        Some((Ok::<_, std::convert::Infallible>(text), rx))
    })
    .fuse();
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}
