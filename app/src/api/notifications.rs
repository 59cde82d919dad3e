//! A user's notifications (list, mark read, dismiss, snooze), their preferences per type,
//! follows of records, and workspace announcements. Each state change is logged in the
//! user's room, so every tab of theirs follows live.

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::notify::{NoticePage, NoticePref, Notification, Priority};
use crate::model::RecordKind;

/// How far ahead a notification may be snoozed, milliseconds (30 days).
pub const MAX_SNOOZE_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// A page of the signed-in user's notifications, newest first: those older than the id
/// `before` when given, at most `limit` (default 50, 1 to 200), with the unread count and
/// the user room's position read before them (listen from it to miss nothing).
/// Errors: `Unauthorized`.
#[server(prefix = "/api", endpoint = "list_notifications", input = Json, output = Json)]
pub async fn list_notifications(
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<NoticePage, AppError> {
    let me = crate::ssr::require_user().await?;
    Ok(me
        .store
        .notifications(me.user.id, before, limit.unwrap_or(50))
        .await?)
}

/// Marks the signed-in user's notifications `ids` (at most 500) read; returns those that
/// were unread. Another user's ids change nothing. Errors: `Unauthorized`, `Validation`
/// for more than 500 ids.
#[server(prefix = "/api", endpoint = "mark_notifications_read", input = Json, output = Json)]
pub async fn mark_notifications_read(ids: Vec<i64>) -> Result<Vec<Notification>, AppError> {
    if ids.len() > 500 {
        return Err(AppError::invalid("ids", "at most 500 at a time"));
    }
    let me = crate::ssr::require_writer().await?;
    Ok(me.store.mark_read(me.user.id, &ids).await?)
}

/// Marks every notification of the signed-in user read; returns the newest id covered
/// (0 when there was none). Errors: `Unauthorized`.
#[server(prefix = "/api", endpoint = "mark_all_notifications_read", input = Json, output = Json)]
pub async fn mark_all_notifications_read() -> Result<i64, AppError> {
    let me = crate::ssr::require_writer().await?;
    Ok(me.store.mark_all_read(me.user.id).await?)
}

/// Dismisses one of the signed-in user's notifications (gone from the list for good).
/// Errors: `Unauthorized`, `NotFound` (also for another user's).
#[server(prefix = "/api", endpoint = "dismiss_notification", input = Json, output = Json)]
pub async fn dismiss_notification(id: i64) -> Result<Notification, AppError> {
    let me = crate::ssr::require_writer().await?;
    Ok(me.store.set_notice_state(me.user.id, id, None).await?)
}

/// Hides one of the signed-in user's notifications until `until` (Unix milliseconds, in
/// the next 30 days): it is back in the list (and, if unread, in the count) then. Errors: `Unauthorized`, `NotFound`,
/// `Validation` on `until` when it is past or too far.
#[server(prefix = "/api", endpoint = "snooze_notification", input = Json, output = Json)]
pub async fn snooze_notification(id: i64, until: i64) -> Result<Notification, AppError> {
    let now = crate::model::now_ms();
    if until <= now || until > now + MAX_SNOOZE_MS {
        return Err(AppError::invalid(
            "until",
            "snooze until a time in the next 30 days",
        ));
    }
    let me = crate::ssr::require_writer().await?;
    Ok(me
        .store
        .set_notice_state(me.user.id, id, Some(until))
        .await?)
}

/// The signed-in user's preference for every notification type (defaults where unset).
/// Errors: `Unauthorized`.
#[server(prefix = "/api", endpoint = "get_notification_prefs", input = Json, output = Json)]
pub async fn get_notification_prefs() -> Result<Vec<NoticePref>, AppError> {
    let me = crate::ssr::require_user().await?;
    Ok(me.store.notice_prefs(me.user.id).await?)
}

/// Stores the signed-in user's preference for one type. Errors: `Unauthorized`.
#[server(prefix = "/api", endpoint = "set_notification_pref", input = Json, output = Json)]
pub async fn set_notification_pref(pref: NoticePref) -> Result<(), AppError> {
    let me = crate::ssr::require_writer().await?;
    Ok(me.store.set_notice_pref(me.user.id, pref).await?)
}

/// Follows (`on`) or unfollows a record (any member, viewers too): followers hear of
/// changes to it while it is high priority. Returns whether the user follows it now.
/// Errors: `Unauthorized`, `NotFound` (also for a record of another workspace).
#[server(prefix = "/api", endpoint = "set_following", input = Json, output = Json)]
pub async fn set_following(
    slug: String,
    kind: RecordKind,
    id: i64,
    on: bool,
) -> Result<bool, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    c.store
        .set_following(c.user.id, c.workspace.id, kind, id, on)
        .await?;
    Ok(on)
}

/// Whether the signed-in user follows the record (any member). Errors: `Unauthorized`,
/// `NotFound`.
#[server(prefix = "/api", endpoint = "get_following", input = Json, output = Json)]
pub async fn get_following(slug: String, kind: RecordKind, id: i64) -> Result<bool, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    if c.store.record_workspace(kind, id).await? != c.workspace.id {
        return Err(AppError::NotFound(format!("no such {}", kind.noun())));
    }
    Ok(c.store.following(c.user.id, kind, id).await?)
}

/// Announces something to the whole workspace (admins and the owner): logged in its
/// activity, and every other member is notified with `priority` (urgent ones stay on
/// screen until dismissed). `title` is 1 to 200 characters, `body` at most 2,000.
/// Errors: `Forbidden` below admin, `Validation` on `title` or `body`.
#[server(prefix = "/api", endpoint = "announce", input = Json, output = Json)]
pub async fn announce(
    slug: String,
    title: String,
    body: String,
    priority: Option<Priority>,
) -> Result<(), AppError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("title", "a title is 1 to 200 characters"));
    }
    if body.chars().count() > 2_000 {
        return Err(AppError::invalid("body", "at most 2,000 characters"));
    }
    let c = crate::ssr::require_member(&slug, crate::model::Role::Admin).await?;
    Ok(c.store
        .announce(
            c.workspace.id,
            c.user.id,
            title,
            body.trim(),
            priority.unwrap_or_default(),
        )
        .await?)
}
