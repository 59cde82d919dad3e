//! `POST /api/import_crm?workspace={slug}`: the upload page sends the CSV files as
//! multipart form data and gets the import report as JSON (a plain axum route, because a
//! file upload does not fit a JSON server function).

use std::collections::BTreeMap;

use app::error::AppError;
use app::model::import::ImportReport;
use app::model::Role;
use axum::extract::{Multipart, Query, State};
use axum::Json;
use serde::Deserialize;
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
/// workspace the caller administers.
///
/// Errors: 401 not signed in; 404 no such workspace or not a member; 403 not an admin;
/// 422 no files, a file that is not UTF-8 text, or a malformed upload; 500 when the
/// database fails.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<UploadQuery>,
    mut multipart: Multipart,
) -> Result<Json<ImportReport>, HttpError> {
    let store = state.db.store.clone();
    let user = app::ssr::signed_in(&*store, &session).await?;
    let caller = app::ssr::authorize(store.clone(), user, &q.workspace, Role::Admin).await?;
    let (ws, user) = (caller.workspace, caller.user.id);
    let bad = |m: String| AppError::invalid("files", m);
    let mut files = BTreeMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("the upload is malformed: {e}")))?
    {
        let name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .unwrap_or_else(|| field.name().unwrap_or_default().to_string());
        let bytes = field
            .bytes()
            .await
            .map_err(|e| bad(format!("{name} could not be read: {e}")))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| bad(format!("{name} is not UTF-8 text")))?;
        files.insert(name, text);
    }
    if files.is_empty() {
        return Err(bad("choose the CSV files to import".into()).into());
    }
    let mapping = store.import_mapping(ws.id).await?;
    let report = super::import_files(&*store, &ws, Some(user), &files, &mapping)
        .await
        .map_err(|e| app::ssr::internal("an import", e))?;
    Ok(Json(report))
}
