//! `GET /api/export_activity?workspace={slug}&feed={json}&filter={json}`: a feed, filtered
//! as on screen, as a CSV download streamed page by page (a plain axum route, because a
//! file download does not fit a JSON server function): a 100,000-row export never sits in
//! memory whole.

use app::error::AppError;
use app::model::activity::{ActivityEntry, ActivityFilter, FeedType, MAX_PAGE};
use app::model::Role;
use app::realtime::protocol::Position;
use app::ssr::store::Store;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde::Deserialize;
use std::sync::Arc;
use tower_sessions::Session;

use crate::error::HttpError;
use crate::state::AppState;

/// The export's query string.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// Slug of the workspace.
    pub workspace: String,
    /// The feed as JSON ([`FeedType`]); the workspace's whole feed when missing.
    pub feed: Option<String>,
    /// The filter as JSON ([`ActivityFilter`]); none when missing.
    pub filter: Option<String>,
}

/// Answers the feed's entries that pass the filter, newest first, as CSV
/// ([`ActivityEntry::CSV_HEADER`], then one row per changed field of each entry), with a
/// download file name.
///
/// Errors (before the first byte): 401 not signed in; 404 no such workspace, not a
/// member, or a record of another workspace; 422 a feed or filter that does not parse.
/// A database failure after the download started ends it early (the file is cut short).
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ExportQuery>,
) -> Result<Response, HttpError> {
    let (store, cache) = (state.ctx.store.clone(), state.ctx.cache.clone());
    let user = app::ssr::signed_in(&*store, &cache, &session).await?;
    let me = app::ssr::Me { user, store, cache };
    let caller = app::ssr::authorize(me, &q.workspace, Role::Viewer).await?;
    let feed: FeedType = parse("feed", &q.feed)?.unwrap_or(FeedType::Global);
    let filter: ActivityFilter = parse("filter", &q.filter)?.unwrap_or_default();
    let workspace = caller.workspace.id;
    // The first page before answering, so a bad feed is an error status, not a cut file.
    let first = caller
        .store
        .activity(workspace, feed, &filter, None, MAX_PAGE)
        .await?;
    let head = [csv_header(), csv_bytes(&first.entries)].concat();
    let pages = futures::stream::unfold(
        Some((caller.store.clone(), first.next)),
        move |state: Option<(Arc<dyn Store>, Option<Position>)>| {
            let filter = filter.clone();
            async move {
                let (store, Some(before)) = state? else {
                    return None;
                };
                match store
                    .activity(workspace, feed, &filter, Some(before), MAX_PAGE)
                    .await
                {
                    Ok(page) => Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(csv_bytes(&page.entries))),
                        Some((store, page.next)),
                    )),
                    Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            }
        },
    );
    // Fused: the compression layer polls once more after the end, which a bare unfold
    // stream does not allow.
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(pages)
        .fuse();
    let name = match feed {
        FeedType::Global => "activity.csv".to_string(),
        FeedType::User { id } => format!("activity-member-{id}.csv"),
        FeedType::Record { kind, id } => format!("activity-{}-{id}.csv", kind.noun()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The JSON in `text` (`None` when missing or blank). Errors: `Validation` on `field`.
fn parse<T: serde::de::DeserializeOwned>(
    field: &str,
    text: &Option<String>,
) -> Result<Option<T>, AppError> {
    Ok(match text {
        Some(t) if !t.trim().is_empty() => Some(
            serde_json::from_str(t)
                .map_err(|e| AppError::invalid(field, format!("the {field} is not valid: {e}")))?,
        ),
        _ => None,
    })
}

/// The CSV header line.
fn csv_header() -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(ActivityEntry::CSV_HEADER);
    w.into_inner().unwrap_or_default()
}

/// `entries` as CSV rows (quoted as needed by the csv crate), each cell made safe to
/// open in a spreadsheet ([`inert`]).
fn csv_bytes(entries: &[ActivityEntry]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for e in entries {
        for row in e.csv_rows() {
            let _ = w.write_record(row.iter().map(|cell| inert(cell).into_owned()));
        }
    }
    w.into_inner().unwrap_or_default()
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return) with a `'` before it, as OWASP's "CSV injection" advises;
/// anything else as it is.
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_made_inert() {
        assert_eq!(super::inert("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(super::inert("@Ann"), "'@Ann");
        assert_eq!(super::inert("retail"), "retail");
    }
}
