//! The WebSocket protocol between browser and server, version [`PROTOCOL_VERSION`]: JSON
//! frames tagged by `type`, shared by both sides so they cannot drift apart.
//!
//! The socket carries events and ephemeral state (presence, typing); writes go through
//! server functions. Each room's events carry consecutive offsets within an epoch, so a
//! client that reconnects with the last (epoch, offset) it applied gets exactly what it
//! missed (replayed from the database's change log) or a `resync`.

use serde::{Deserialize, Serialize};

use crate::model::{Record, RecordKind};

/// The protocol version; the first frame each side sends carries it.
pub const PROTOCOL_VERSION: u32 = 1;

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

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Created.
    Created,
    /// Changed.
    Updated,
    /// Tombstoned.
    Deleted,
    /// Many records changed at once (an import): reload what you show.
    Bulk,
    /// The workspace's members changed (joined, left, role): `id` is the user's.
    Members,
    /// The workspace's invite links changed (created, revoked, used): `id` is the invite's.
    Invites,
}

/// A committed change, as logged and delivered in `event` frames.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Created, updated, deleted or bulk.
    pub op: ChangeOp,
    /// Kind of the record (`None` for a member change).
    pub kind: Option<RecordKind>,
    /// The record's id (0 for bulk; the user's id for a member change).
    pub id: i64,
    /// The record after the change (also for a deletion, with its tombstone); `None` for bulk.
    pub record: Option<Record>,
    /// Names of the fields that changed (empty for a creation, deletion or bulk).
    pub fields: Vec<String>,
    /// Who made it (`None` for the system).
    pub actor: Option<i64>,
    /// When it committed, Unix milliseconds.
    pub at: i64,
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
        /// Machine-readable code (`bad_frame`, `forbidden`, `rate_limited`, `version`,
        /// `limit`, `too_many_sockets`, `internal`).
        code: String,
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
