//! Chat: the rooms a member sees (channels, record discussions, private rooms), private
//! rooms' invitations and participants, messages (sent with an idempotency key, edited,
//! deleted, replied to, reacted to), read markers and search. A private room is invisible
//! to whoever is not in it: every call answers them "no such chat room", as for a room
//! that does not exist.

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::chat::{
    ChatInvitation, ChatKind, ChatMessage, ChatOverview, ChatRoom, ChatRoomDetail, ChatTarget,
    MessagePage,
};
use crate::model::RecordKind;

/// Longest idempotency key, characters.
pub const MAX_KEY_CHARS: usize = 100;

/// Most members invited in one call.
pub const MAX_INVITEES: usize = 50;

#[cfg(feature = "ssr")]
fn no_room(e: crate::ssr::store::DbError) -> AppError {
    match e {
        crate::ssr::store::DbError::NotFound => AppError::NotFound("no such chat room".into()),
        other => other.into(),
    }
}

/// The rooms the caller sees in the workspace `slug` (channels, their private rooms, the
/// 50 discussions with the newest messages), each with the caller's read marker and
/// unread count, and their open invitations. Errors: `Unauthorized`, `NotFound`.
#[server(prefix = "/api", endpoint = "list_chat_rooms", input = Json, output = Json)]
pub async fn list_chat_rooms(slug: String) -> Result<ChatOverview, AppError> {
    use crate::realtime::protocol::Room;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let now = crate::model::now_ms();
    // The rooms' heads are read before their counts (a second read of the overview), so
    // a listener resuming from them misses nothing.
    let first = c
        .store
        .chat_overview(c.workspace.id, c.user.id, now)
        .await?;
    let rooms: Vec<Room> = first.rooms.iter().map(|r| Room::Chat(r.id)).collect();
    let heads = c.store.room_heads(&rooms).await?;
    let mut overview = c
        .store
        .chat_overview(c.workspace.id, c.user.id, now)
        .await?;
    overview.positions = heads
        .into_iter()
        .filter_map(|(room, at)| match room {
            Room::Chat(id) => Some((id, at)),
            _ => None,
        })
        .collect();
    Ok(overview)
}

/// One room with its participants and invitations (a private room's). Errors:
/// `Unauthorized`, `NotFound` (also for a private room the caller is not in).
#[server(prefix = "/api", endpoint = "get_chat_room", input = Json, output = Json)]
pub async fn get_chat_room(slug: String, room_id: i64) -> Result<ChatRoomDetail, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    c.store
        .chat_room(c.workspace.id, c.user.id, room_id)
        .await
        .map_err(no_room)
}

/// The discussion of a record (`None` before its first message). Errors:
/// `Unauthorized`, `NotFound` for a record not in the workspace.
#[server(prefix = "/api", endpoint = "get_discussion", input = Json, output = Json)]
pub async fn get_discussion(
    slug: String,
    kind: RecordKind,
    record_id: i64,
) -> Result<Option<ChatRoom>, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store
        .discussion(c.workspace.id, c.user.id, kind, record_id)
        .await?)
}

/// Makes a channel (admins and the owner) or a private room owned by the caller, named
/// `name` (1 to 80 characters), a private room with an optional participant limit (2 to
/// 1,000). Errors: `Unauthorized`, `Forbidden` for viewers, `Validation` on `name`,
/// `kind` or `max_participants`.
#[server(prefix = "/api", endpoint = "create_chat_room", input = Json, output = Json)]
pub async fn create_chat_room(
    slug: String,
    kind: ChatKind,
    name: String,
    max_participants: Option<i64>,
) -> Result<ChatRoom, AppError> {
    let name =
        crate::model::chat::check_room_name(&name).map_err(|m| AppError::invalid("name", m))?;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    let admin = c.role >= crate::model::Role::Admin;
    Ok(c.store
        .create_chat_room(
            c.workspace.id,
            c.user.id,
            admin,
            kind,
            &name,
            max_participants,
        )
        .await?)
}

/// What [`edit_chat_room`] changes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRoomEdit {
    /// A new name (1 to 80 characters).
    Rename(String),
    /// Archive (read only) or bring back.
    Archive(bool),
    /// Hand the private room to this participant.
    Owner(i64),
}

/// Renames, archives (or brings back) or hands over a room: a channel by admins and the
/// owner, a private room by its owner. Errors: `Unauthorized`, `Forbidden` for viewers,
/// `NotFound`, `Validation` on `name`, `room` (not allowed) or `user_id`.
#[server(prefix = "/api", endpoint = "edit_chat_room", input = Json, output = Json)]
pub async fn edit_chat_room(
    slug: String,
    room_id: i64,
    edit: ChatRoomEdit,
) -> Result<ChatRoom, AppError> {
    use crate::ssr::store::RoomEdit;
    let edit = match edit {
        ChatRoomEdit::Rename(name) => RoomEdit::Rename(
            crate::model::chat::check_room_name(&name).map_err(|m| AppError::invalid("name", m))?,
        ),
        ChatRoomEdit::Archive(on) => RoomEdit::Archive(on),
        ChatRoomEdit::Owner(user) => RoomEdit::Owner(user),
    };
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    let admin = c.role >= crate::model::Role::Admin;
    c.store
        .edit_chat_room(c.workspace.id, c.user.id, admin, room_id, edit)
        .await
        .map_err(no_room)
}

/// Invites members (1 to 50) into a private room the caller is in, for `days` days
/// (default 7, 1 to 30). Each is told (a notification and their chat page, live).
/// Errors: `Unauthorized`, `Forbidden` for viewers, `NotFound`, `Validation` on
/// `user_ids` (not members, already in, past the room's limit) or `room`.
#[server(prefix = "/api", endpoint = "invite_to_chat_room", input = Json, output = Json)]
pub async fn invite_to_chat_room(
    slug: String,
    room_id: i64,
    user_ids: Vec<i64>,
    days: Option<i64>,
) -> Result<Vec<ChatInvitation>, AppError> {
    if user_ids.len() > MAX_INVITEES {
        return Err(AppError::invalid(
            "user_ids",
            "invite at most 50 people at a time",
        ));
    }
    let ttl = match days {
        None => crate::model::chat::INVITATION_TTL_MS,
        Some(d) if (1..=30).contains(&d) => d * 24 * 60 * 60 * 1000,
        Some(_) => {
            return Err(AppError::invalid(
                "days",
                "an invitation lasts 1 to 30 days",
            ))
        }
    };
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    c.store
        .invite_to_chat(
            c.workspace.id,
            c.user.id,
            room_id,
            &user_ids,
            crate::model::now_ms() + ttl,
        )
        .await
        .map_err(no_room)
}

/// Accepts (the caller joins the room) or declines one of the caller's invitations.
/// Errors: `Unauthorized`, `NotFound` (also someone else's), `Validation` on
/// `invitation` when it expired, was answered or withdrawn, or the room is full.
#[server(prefix = "/api", endpoint = "answer_chat_invitation", input = Json, output = Json)]
pub async fn answer_chat_invitation(
    slug: String,
    invitation_id: i64,
    accept: bool,
) -> Result<ChatInvitation, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    c.store
        .answer_chat_invitation(
            c.workspace.id,
            c.user.id,
            invitation_id,
            accept,
            crate::model::now_ms(),
        )
        .await
        .map_err(|e| match e {
            crate::ssr::store::DbError::NotFound => AppError::NotFound("no such invitation".into()),
            other => other.into(),
        })
}

/// Leaves a private room (`user_id` = the caller or absent), or removes a participant
/// (the room's owner only). Whoever goes stops receiving the room at once. Errors:
/// `Unauthorized`, `NotFound`, `Validation` on `user_id` or `room`.
#[server(prefix = "/api", endpoint = "leave_chat_room", input = Json, output = Json)]
pub async fn leave_chat_room(
    slug: String,
    room_id: i64,
    user_id: Option<i64>,
) -> Result<(), AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let who = user_id.unwrap_or(c.user.id);
    c.store
        .leave_chat_room(c.workspace.id, c.user.id, room_id, who)
        .await
        .map_err(no_room)
}

/// A page of a room's history, newest first: before position `before` (from the newest
/// when absent), at most `limit` (default 50, 1 to 200), with the room's log position
/// read before it and the caller's read marker. Errors: `Unauthorized`, `NotFound`.
#[server(prefix = "/api", endpoint = "list_chat_messages", input = Json, output = Json)]
pub async fn list_chat_messages(
    slug: String,
    room_id: i64,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<MessagePage, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    c.store
        .chat_messages(
            c.workspace.id,
            c.user.id,
            room_id,
            before,
            limit.unwrap_or(50),
        )
        .await
        .map_err(no_room)
}

/// Sends a message (1 to 4,000 characters in the markdown subset, mentions as `<@id>`)
/// to a room or a record's discussion (made by its first message), replying to
/// `reply_to` if given. With `key` (1 to 100 characters, made by the client for this
/// message) a repeat returns the first message and stores nothing: an offline queue
/// sends each message once however often it retries. Errors: `Unauthorized`, `Forbidden`
/// for viewers, `NotFound`, `RateLimited`, `Validation` on `body`, `key`, `room`
/// (archived) or `reply_to`.
#[server(prefix = "/api", endpoint = "send_chat_message", input = Json, output = Json)]
pub async fn send_chat_message(
    slug: String,
    target: ChatTarget,
    body: String,
    reply_to: Option<i64>,
    key: Option<String>,
) -> Result<ChatMessage, AppError> {
    let body = crate::model::chat::check_body(&body).map_err(|m| AppError::invalid("body", m))?;
    if key
        .as_deref()
        .is_some_and(|k| k.is_empty() || k.chars().count() > MAX_KEY_CHARS)
    {
        return Err(AppError::invalid("key", "a key is 1 to 100 characters"));
    }
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    c.store
        .send_message(
            c.workspace.id,
            c.user.id,
            target,
            &body,
            reply_to,
            key.as_deref(),
        )
        .await
        .map_err(no_room)
}

/// Edits one of the caller's own messages (shown as edited). Errors: `Unauthorized`,
/// `Forbidden` for viewers, `NotFound`, `Validation` on `body` or `message` (someone
/// else's, or deleted).
#[server(prefix = "/api", endpoint = "edit_chat_message", input = Json, output = Json)]
pub async fn edit_chat_message(
    slug: String,
    room_id: i64,
    message_id: i64,
    body: String,
) -> Result<ChatMessage, AppError> {
    let body = crate::model::chat::check_body(&body).map_err(|m| AppError::invalid("body", m))?;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    c.store
        .change_message(c.workspace.id, c.user.id, room_id, message_id, Some(&body))
        .await
        .map_err(no_room)
}

/// Deletes one of the caller's own messages (a tombstone: shown as deleted, its text
/// gone). Errors: `Unauthorized`, `Forbidden` for viewers, `NotFound`, `Validation` on
/// `message`.
#[server(prefix = "/api", endpoint = "delete_chat_message", input = Json, output = Json)]
pub async fn delete_chat_message(
    slug: String,
    room_id: i64,
    message_id: i64,
) -> Result<ChatMessage, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    c.store
        .change_message(c.workspace.id, c.user.id, room_id, message_id, None)
        .await
        .map_err(no_room)
}

/// Adds (`on`) or takes back the caller's reaction `emoji` (one of
/// [`crate::model::chat::REACTIONS`]). Errors: `Unauthorized`, `Forbidden` for viewers,
/// `NotFound`, `Validation` on `emoji` or `message`.
#[server(prefix = "/api", endpoint = "react_chat_message", input = Json, output = Json)]
pub async fn react_chat_message(
    slug: String,
    room_id: i64,
    message_id: i64,
    emoji: String,
    on: bool,
) -> Result<ChatMessage, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    c.store
        .react(c.workspace.id, c.user.id, room_id, message_id, &emoji, on)
        .await
        .map_err(no_room)
}

/// Moves the caller's read marker in a room forward to `seq` (never back); their other
/// tabs follow. Returns the room with its unread count. Errors: `Unauthorized`,
/// `NotFound`.
#[server(prefix = "/api", endpoint = "mark_chat_read", input = Json, output = Json)]
pub async fn mark_chat_read(slug: String, room_id: i64, seq: i64) -> Result<ChatRoom, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    c.store
        .mark_chat_read(c.workspace.id, c.user.id, room_id, seq)
        .await
        .map_err(no_room)
}

/// One message found by [`search_chat_messages`], with its room.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatHit {
    /// The room it is in.
    pub room: ChatRoom,
    /// The message.
    pub message: ChatMessage,
}

/// Messages containing `term` (2 to 100 characters, case ignored) in the rooms the caller
/// sees, newest first, at most 50. Errors: `Unauthorized`, `NotFound`, `Validation` on
/// `term`.
#[server(prefix = "/api", endpoint = "search_chat_messages", input = Json, output = Json)]
pub async fn search_chat_messages(slug: String, term: String) -> Result<Vec<ChatHit>, AppError> {
    let n = term.trim().chars().count();
    if !(2..=100).contains(&n) {
        return Err(AppError::invalid("term", "search for 2 to 100 characters"));
    }
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store
        .search_messages(c.workspace.id, c.user.id, &term, 50)
        .await?
        .into_iter()
        .map(|(room, message)| ChatHit { room, message })
        .collect())
}
