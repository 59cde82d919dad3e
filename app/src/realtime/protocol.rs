//! The WebSocket protocol between browser and server, version [`PROTOCOL_VERSION`]: JSON
//! frames tagged by `type`, shared by both sides so they cannot drift apart.
//!
//! The socket carries events and ephemeral state (presence, typing); writes go through
//! server functions. Each room's events carry consecutive offsets within an epoch, so a
//! client that reconnects with the last (epoch, offset) it applied gets exactly what it
//! missed (replayed from the database's change log) or a `resync`.

use serde::{Deserialize, Serialize};

use crate::model::{Record, RecordKind};

/// The protocol version; the first frame each side sends carries it. Version 2: a
/// change says what it carries (`Change` is tagged by `op`), error codes are a closed
/// set ([`ErrorCode`]).
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest frame the server accepts, bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// WebSocket close code sent when the socket's session has ended (signed out, expired):
/// the client should not reconnect until it signs in again (4000-4999 are the
/// application's own codes, RFC 6455 section 7.4.2).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

/// A room: what a socket subscribes to. On the wire `workspace:{id}`, `admins:{id}`,
/// `customer:{id}`, `deal:{id}`, `product:{id}` or `user:{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    /// Everything that happens in a workspace (list and board updates).
    Workspace(i64),
    /// What only a workspace's admins and owner see (its invite links).
    Admins(i64),
    /// One record (its page: changes, presence, field focus).
    Record(RecordKind, i64),
    /// One user's personal notifications.
    User(i64),
}

impl Room {
    /// The room's name on the wire.
    pub fn name(&self) -> String {
        match self {
            Room::Workspace(id) => format!("workspace:{id}"),
            Room::Admins(id) => format!("admins:{id}"),
            Room::Record(kind, id) => format!("{}:{id}", kind.noun()),
            Room::User(id) => format!("user:{id}"),
        }
    }

    /// Parses a room name. `None` for anything malformed.
    pub fn parse(s: &str) -> Option<Room> {
        let (prefix, id) = s.split_once(':')?;
        let id: i64 = id.parse().ok().filter(|i| *i > 0)?;
        match prefix {
            "workspace" => Some(Room::Workspace(id)),
            "admins" => Some(Room::Admins(id)),
            "user" => Some(Room::User(id)),
            other => RecordKind::ALL
                .into_iter()
                .find(|k| k.noun() == other)
                .map(|k| Room::Record(k, id)),
        }
    }
}

impl Serialize for Room {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Room {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Room::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("no such room {s:?}")))
    }
}

/// A position in a room's event stream: the epoch (which changes when the log is reset,
/// so old offsets mean nothing) and the offset of the last event (0 before the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The log's epoch.
    pub epoch: i64,
    /// Offset of the last event, consecutive from 1 within the epoch.
    pub offset: i64,
}

/// Presence status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Active.
    #[default]
    Online,
    /// Idle or the tab is hidden.
    Away,
    /// Do not disturb.
    Busy,
}

/// The field a user is editing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Editing {
    /// The record's room (`customer:12`).
    pub record: Room,
    /// The field's name.
    pub field: String,
}

/// One user's presence in a room (one entry however many tabs they have open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The user's id.
    pub user_id: i64,
    /// Display name.
    pub name: String,
    /// Avatar colour.
    pub color: String,
    /// Online, away or busy.
    pub status: Status,
    /// The page they are on (a path).
    pub page: String,
    /// The field they are editing, if any.
    pub editing: Option<Editing>,
    /// When they were last heard from, Unix milliseconds.
    pub last_seen: i64,
}

/// What a committed change did, without its payload (for matching and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A record was created.
    Created,
    /// A record was changed.
    Updated,
    /// A record was tombstoned.
    Deleted,
    /// Many records of a kind changed at once (an import).
    Bulk,
    /// The workspace's members changed.
    Members,
    /// The workspace's invite links changed.
    Invites,
}

/// A committed change, as logged and delivered in `event` frames; each variant carries
/// exactly what it concerns. On the wire an object tagged by `op`. Records are whole (the
/// record after the change; for a deletion, its tombstone). Chat messages, which are not
/// records, will be a variant of their own in a room that is only a stream.
///
/// Payloads logged before protocol 2 (`{op, kind, id, record, fields, actor, at}`) still
/// read: the extra fields are ignored and `id` is taken as the user or invite id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A record was created.
    Created {
        /// The new record.
        record: Record,
        /// Who made it (`None` for the system).
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// A record was changed.
    Updated {
        /// The record after the change.
        record: Record,
        /// Names of the fields that changed (empty when an import changed it).
        #[serde(default)]
        fields: Vec<String>,
        /// Who made it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// A record was tombstoned.
    Deleted {
        /// The tombstone (who deleted it and when are on it).
        record: Record,
        /// Who deleted it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// Many records of a kind changed at once (an import): reload what you show.
    Bulk {
        /// The kind.
        kind: RecordKind,
        /// Who ran it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// The workspace's members changed: a user joined, left or changed role.
    Members {
        /// The user concerned.
        #[serde(alias = "id")]
        user: i64,
        /// Who made the change, if known.
        #[serde(default)]
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// The workspace's invite links changed: one was made, revoked or used.
    Invites {
        /// The invite concerned.
        #[serde(alias = "id")]
        invite: i64,
        /// Who made the change, if known.
        #[serde(default)]
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
}

impl Change {
    /// What the change did.
    pub fn op(&self) -> ChangeOp {
        match self {
            Change::Created { .. } => ChangeOp::Created,
            Change::Updated { .. } => ChangeOp::Updated,
            Change::Deleted { .. } => ChangeOp::Deleted,
            Change::Bulk { .. } => ChangeOp::Bulk,
            Change::Members { .. } => ChangeOp::Members,
            Change::Invites { .. } => ChangeOp::Invites,
        }
    }

    /// The record it carries (created, updated or tombstoned).
    pub fn record(&self) -> Option<&Record> {
        match self {
            Change::Created { record, .. }
            | Change::Updated { record, .. }
            | Change::Deleted { record, .. } => Some(record),
            _ => None,
        }
    }

    /// The kind of record it concerns, if any.
    pub fn kind(&self) -> Option<RecordKind> {
        match self {
            Change::Bulk { kind, .. } => Some(*kind),
            other => other.record().map(|r| r.kind),
        }
    }

    /// When it committed, Unix milliseconds.
    pub fn at(&self) -> i64 {
        match self {
            Change::Created { at, .. }
            | Change::Updated { at, .. }
            | Change::Deleted { at, .. }
            | Change::Bulk { at, .. }
            | Change::Members { at, .. }
            | Change::Invites { at, .. } => *at,
        }
    }

    /// Who made it (`None` for the system).
    pub fn actor(&self) -> Option<i64> {
        match self {
            Change::Created { actor, .. }
            | Change::Updated { actor, .. }
            | Change::Deleted { actor, .. }
            | Change::Bulk { actor, .. }
            | Change::Members { actor, .. }
            | Change::Invites { actor, .. } => *actor,
        }
    }
}

/// Why the server refused a frame, or ended a room: the code of an `error` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a frame of this protocol (malformed, binary, a bad `since`).
    BadFrame,
    /// The client speaks another protocol version.
    Version,
    /// No access to the room (also when access ends: the subscription is over).
    Forbidden,
    /// Too many frames; slow down.
    RateLimited,
    /// Too many rooms on this socket.
    Limit,
    /// Too many sockets for this user or address; the socket closes.
    TooManySockets,
    /// The server failed (logged there); try again later.
    Internal,
}

/// A frame from the browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame: the protocol version the client speaks.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
    },
    /// Subscribe to a room, from `since` if given (resume) or from now.
    Subscribe {
        /// The room.
        room: Room,
        /// The last position applied, to replay what came after it.
        #[serde(default)]
        since: Option<Position>,
    },
    /// Leave a room.
    Unsubscribe {
        /// The room.
        room: Room,
    },
    /// The user's presence, applied to every room the socket is in.
    Presence {
        /// Online, away or busy.
        status: Status,
        /// The page they are on.
        page: String,
        /// The field being edited.
        #[serde(default)]
        editing: Option<Editing>,
    },
    /// The user is typing in a room (in a field, if given).
    Typing {
        /// The room.
        room: Room,
        /// The field.
        #[serde(default)]
        field: Option<String>,
    },
    /// Heartbeat; answered by `pong`.
    Ping,
}

/// A frame from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The first frame: the protocol version and who the socket belongs to.
    Welcome {
        /// [`PROTOCOL_VERSION`].
        version: u32,
        /// The signed-in user.
        user_id: i64,
    },
    /// The subscription is live: every event after `position` will be delivered.
    /// Replayed events (after the `since` asked for) follow before any live one.
    Subscribed {
        /// The room.
        room: Room,
        /// The room's head when the subscription started.
        position: Position,
        /// Who is in the room.
        presence: Vec<PresenceEntry>,
    },
    /// A committed change in a room, at `position`.
    Event {
        /// The room.
        room: Room,
        /// Epoch and offset of this event.
        position: Position,
        /// What changed.
        change: Change,
    },
    /// People who joined (or changed their presence) and left a room.
    PresenceDiff {
        /// The room.
        room: Room,
        /// New or changed entries.
        joins: Vec<PresenceEntry>,
        /// User ids that left.
        leaves: Vec<i64>,
    },
    /// Someone is typing.
    Typing {
        /// The room.
        room: Room,
        /// Who.
        user_id: i64,
        /// In which field.
        field: Option<String>,
    },
    /// Replay is impossible (or the socket fell behind): reload the room's data and
    /// subscribe again without `since`.
    Resync {
        /// The room.
        room: Room,
        /// Why, for logs.
        reason: String,
    },
    /// A frame was refused, or access to a room ended; the socket stays open unless the
    /// code is `too_many_sockets`.
    Error {
        /// Why.
        code: ErrorCode,
        /// For people.
        message: String,
        /// The room concerned, when the error is about one (`forbidden` for a room the
        /// user may no longer see: the subscription has ended).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<Room>,
    },
    /// Answer to `ping`.
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_logged_before_protocol_2_still_read() {
        let members: Change = serde_json::from_str(
            r#"{"op":"members","kind":null,"id":7,"record":null,"fields":[],"actor":null,"at":5}"#,
        )
        .expect("an old member change");
        assert_eq!(
            members,
            Change::Members {
                user: 7,
                actor: None,
                at: 5
            }
        );
        let bulk: Change = serde_json::from_str(
            r#"{"op":"bulk","kind":"deal","id":0,"record":null,"fields":[],"actor":3,"at":9}"#,
        )
        .expect("an old bulk change");
        assert_eq!(bulk.kind(), Some(RecordKind::Deal));
        assert_eq!(
            (bulk.op(), bulk.actor(), bulk.at()),
            (ChangeOp::Bulk, Some(3), 9)
        );
    }

    #[test]
    fn a_change_carries_only_what_it_concerns() {
        let json = serde_json::to_value(Change::Invites {
            invite: 4,
            actor: Some(1),
            at: 2,
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"op": "invites", "invite": 4, "actor": 1, "at": 2})
        );
    }
}
