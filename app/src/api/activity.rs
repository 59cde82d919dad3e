//! The activity feed: a page of who did what, read from the change log, for the
//! workspace, one member or one record. Its CSV export is a plain streamed route
//! (`GET /api/export_activity`, in `server/src/activity.rs`).

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::activity::{ActivityFilter, ActivityPage, FeedType};
use crate::realtime::protocol::Position;

/// A page of a feed of the workspace `slug` (any member), newest first, older than
/// `before` (a page's `next`) when given, at most `limit` entries (default 50, at most
/// 200) passing `filter`, with the feed room's position read before them. A text filter
/// looks through a bounded stretch of the log per call, so a page may be short and still
/// have a `next`. Errors: `Unauthorized`, `NotFound` (also for a record of another
/// workspace).
#[server(prefix = "/api", endpoint = "list_activity", input = Json, output = Json)]
pub async fn list_activity(
    slug: String,
    feed: FeedType,
    filter: Option<ActivityFilter>,
    before: Option<Position>,
    limit: Option<i64>,
) -> Result<ActivityPage, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store
        .activity(
            c.workspace.id,
            feed,
            &filter.unwrap_or_default(),
            before,
            limit.unwrap_or(50),
        )
        .await?)
}
