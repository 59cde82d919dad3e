//! Calendars and booking: a member's weekly availability and days off in their time
//! zone, the free slots of one or several members for a span, and answering a meeting's
//! invitation. Booking itself is `create_record` of a meeting: the store's overlap check
//! makes it atomic ("this slot was just taken").

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::calendar::{Calendar, FreeSlots};
use crate::model::{Record, RecordKind};

/// The most members one booking page asks free slots of at once.
pub const MAX_PEOPLE: usize = 10;

/// The calendar of `user` (default: the caller), a member of the workspace `slug` (any
/// member may read a colleague's, to book them). Errors: `Unauthorized`, `NotFound` for a
/// workspace the caller is not in or a user who is not its member.
#[server(prefix = "/api", endpoint = "get_calendar", input = Json, output = Json)]
pub async fn get_calendar(slug: String, user: Option<i64>) -> Result<Calendar, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let user = user.unwrap_or(c.user.id);
    if c.store.role(c.workspace.id, user).await?.is_none() {
        return Err(AppError::NotFound(
            "no such member in this workspace".into(),
        ));
    }
    Ok(c.store.calendar(user).await?)
}

/// Replaces the caller's calendar: an IANA time zone, weekly windows, days off and the
/// reminder lead in minutes. It is the caller's own (every workspace books them by it).
/// Errors: `Unauthorized`, `RateLimited`, `Validation` naming `time_zone`, `weekly`,
/// `days_off` or `reminder_minutes`.
#[server(prefix = "/api", endpoint = "set_calendar", input = Json, output = Json)]
pub async fn set_calendar(calendar: Calendar) -> Result<Calendar, AppError> {
    let me = crate::ssr::require_writer().await?;
    crate::ssr::slots::zone(&calendar.time_zone).map_err(|m| AppError::invalid("time_zone", m))?;
    calendar
        .check()
        .map_err(|(field, message)| AppError::invalid(field, message))?;
    me.store.set_calendar(me.user.id, &calendar).await?;
    Ok(me.store.calendar(me.user.id).await?)
}

/// The slots of `slot_minutes` (15 to 240, default 30) within `from..to` (Unix ms, at
/// most 14 days; the caller's local days, so a span over a daylight-saving change is not
/// a whole number of 24-hour days) when all of `users` (1 to 10 members of the workspace)
/// are available by their calendars and not in a meeting, from now on, with their
/// meetings in the span (titles only of this workspace's). Errors: `Unauthorized`,
/// `NotFound` for a user who is not a member, `Validation` for the sizes.
#[server(prefix = "/api", endpoint = "list_free_slots", input = Json, output = Json)]
pub async fn list_free_slots(
    slug: String,
    users: Vec<i64>,
    from: i64,
    to: i64,
    slot_minutes: Option<i64>,
) -> Result<FreeSlots, AppError> {
    use crate::model::calendar::MAX_SPAN_DAYS;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let mut users = users;
    users.sort_unstable();
    users.dedup();
    if users.is_empty() || users.len() > MAX_PEOPLE {
        return Err(AppError::invalid(
            "users",
            format!("choose 1 to {MAX_PEOPLE} members"),
        ));
    }
    if to <= from || to - from > MAX_SPAN_DAYS * 86_400_000 {
        return Err(AppError::invalid(
            "to",
            format!("a span ends after it starts, at most {MAX_SPAN_DAYS} days later"),
        ));
    }
    let minutes = slot_minutes.unwrap_or(30);
    if !(15..=240).contains(&minutes) {
        return Err(AppError::invalid(
            "slot_minutes",
            "a slot is 15 to 240 minutes",
        ));
    }
    let mut calendars = Vec::new();
    let mut zones = Vec::new();
    for u in &users {
        if c.store.role(c.workspace.id, *u).await?.is_none() {
            return Err(AppError::NotFound(
                "no such member in this workspace".into(),
            ));
        }
        let cal = c.store.calendar(*u).await?;
        zones.push((*u, cal.time_zone.clone()));
        calendars.push(cal);
    }
    let busy = c.store.busy(c.workspace.id, &users, from, to).await?;
    let now = crate::model::now_ms();
    let slots = crate::ssr::slots::free_slots(&calendars, &busy, from, to, minutes, now)
        .map_err(|e| crate::ssr::internal("computing free slots", e))?;
    Ok(FreeSlots {
        from,
        to,
        slot_minutes: minutes,
        slots,
        busy,
        zones,
    })
}

/// Answers the invitation to a scheduled record of `kind` with a responses field (a
/// meeting) for the caller, who must be among its people: `answer` is accepted, declined
/// or tentative. An update of its RSVP field through the record mechanism (logged, live,
/// the organizer notified); declining frees the caller's time. Errors: `Unauthorized`,
/// `NotFound`, `Gone`, `Validation` for an unknown answer, a kind without answers or a
/// caller who is not invited.
#[server(prefix = "/api", endpoint = "answer_invitation", input = Json, output = Json)]
pub async fn answer_invitation(
    slug: String,
    kind: RecordKind,
    id: i64,
    answer: String,
) -> Result<Record, AppError> {
    use crate::model::record::{with_response, RSVP_RESPONSES};
    use crate::model::FieldChange;
    // Any member taking part answers, viewers included: it is their own time.
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let Some(answer) = RSVP_RESPONSES[1..].iter().find(|a| **a == answer) else {
        return Err(AppError::invalid(
            "answer",
            "an answer is accepted, declined or tentative",
        ));
    };
    let Some((schedule, field)) = kind
        .spec()
        .schedule
        .as_ref()
        .and_then(|s| s.responses.map(|f| (s, f)))
    else {
        return Err(AppError::invalid(
            "kind",
            format!("a {} has no invitations", kind.noun()),
        ));
    };
    // The answer is merged into the field as stored; a colleague's answer landing in
    // between is a conflict on the same field, so read again and retry.
    for _ in 0..5 {
        let record = c.store.record(c.workspace.id, kind, id).await?;
        if !schedule
            .people(&record.fields)
            .iter()
            .any(|(u, _)| *u == c.user.id)
        {
            return Err(AppError::invalid("answer", "you are not invited to this"));
        }
        let base = record.get(field).clone();
        let value = with_response(&base, c.user.id, answer);
        let changes = [(field.to_string(), FieldChange { base, value })].into();
        match c
            .store
            .update_record(c.workspace.id, c.user.id, kind, id, changes)
            .await
        {
            Err(crate::ssr::store::DbError::EditConflict { .. }) => continue,
            other => return Ok(other?),
        }
    }
    Err(AppError::invalid(
        "answer",
        "the invitation kept changing; try again",
    ))
}
