//! The WebSocket protocol between browser and server, version [`PROTOCOL_VERSION`]: JSON
//! frames tagged by `type`, shared by both sides so they cannot drift apart.
//!
//! The socket carries events and ephemeral state (presence, typing); writes go through
//! server functions. Each room's events carry consecutive offsets within an epoch, so a
//! client that reconnects with the last (epoch, offset) it applied gets exactly what it
//! missed (replayed from the database's change log) or a `resync`.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::model::notify::Notification;
use crate::model::{Fields, Record, RecordKind};
use crate::realtime::tag_first::tag_first_enum;

/// The protocol version; the first frame each side sends carries it. Version 2: a
/// change says what it carries (`Change` is tagged by `op`), error codes are a closed
/// set ([`ErrorCode`]). Version 3: an update carries the changed fields and the new
/// version, not the whole record. Version 4: a restored record (`op: restored`), updates
/// name the fields written by explicit overwrite, and `take_over` of a field someone is
/// editing. Version 5: notifications on the user's room (`notice`, `notices_read`),
/// announcements (`announced`), and updates that carry their fields' values before, the
/// record's title and whose values an overwrite replaced; a bulk change carries its
/// import's counts and a member change how it changed. Version 6: chat rooms
/// (`chat:{id}`) with `message` and `chat_room` changes, and `chat_invitation` and
/// `chat_read` on the user's room. Version 7: `reconnect` (the server is going away:
/// come back after the delay).
pub const PROTOCOL_VERSION: u32 = 7;

/// Largest frame the server accepts, bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// WebSocket close code sent when the socket's session has ended (signed out, expired):
/// the client should not reconnect until it signs in again (4000-4999 are the
/// application's own codes, RFC 6455 section 7.4.2).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

/// A room: what a socket subscribes to. On the wire `workspace:{id}`, `admins:{id}`,
/// `customer:{id}`, `deal:{id}`, `product:{id}`, `chat:{id}` or `user:{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    /// Everything that happens in a workspace (list and board updates).
    Workspace(i64),
    /// What only a workspace's admins and owner see (its invite links).
    Admins(i64),
    /// One record (its page: changes, presence, field focus).
    Record(RecordKind, i64),
    /// One user's personal notifications, invitations and read markers.
    User(i64),
    /// One chat room: its messages and what happens to it.
    Chat(i64),
}

impl Room {
    /// The room's name on the wire.
    pub fn name(&self) -> String {
        match self {
            Room::Workspace(id) => format!("workspace:{id}"),
            Room::Admins(id) => format!("admins:{id}"),
            Room::Record(kind, id) => format!("{}:{id}", kind.noun()),
            Room::User(id) => format!("user:{id}"),
            Room::Chat(id) => format!("chat:{id}"),
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
            "chat" => Some(Room::Chat(id)),
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
        Room::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("no such room \"{s}\"")))
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

impl Status {
    /// The status as a person reads it: `"online"`, `"away"` or `"busy"`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Busy => "busy",
        }
    }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A record was created.
    Created,
    /// A record was changed.
    Updated,
    /// A record was tombstoned.
    Deleted,
    /// A tombstoned record was restored.
    Restored,
    /// Many records of a kind changed at once (an import).
    Bulk,
    /// The workspace's members changed.
    Members,
    /// The workspace's invite links changed.
    Invites,
    /// An admin announced something to the workspace.
    Announced,
    /// A notification was made or changed (read, snoozed, dismissed).
    Notice,
    /// All of a user's notifications up to one were marked read.
    NoticesRead,
    /// A chat message was sent, edited, deleted or reacted to.
    Message,
    /// A chat room was made or changed (name, archive, participants, owner).
    ChatRoom,
    /// An invitation to a private room was made or answered.
    ChatInvitation,
    /// A user's read marker in a chat room moved.
    ChatRead,
}

impl ChangeOp {
    /// Every op, in the order filters list them.
    pub const ALL: [ChangeOp; 14] = [
        ChangeOp::Created,
        ChangeOp::Updated,
        ChangeOp::Deleted,
        ChangeOp::Restored,
        ChangeOp::Bulk,
        ChangeOp::Members,
        ChangeOp::Invites,
        ChangeOp::Announced,
        ChangeOp::Notice,
        ChangeOp::NoticesRead,
        ChangeOp::Message,
        ChangeOp::ChatRoom,
        ChangeOp::ChatInvitation,
        ChangeOp::ChatRead,
    ];

    /// The op's name on the wire and in the log (`"created"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Created => "created",
            ChangeOp::Updated => "updated",
            ChangeOp::Deleted => "deleted",
            ChangeOp::Restored => "restored",
            ChangeOp::Bulk => "bulk",
            ChangeOp::Members => "members",
            ChangeOp::Invites => "invites",
            ChangeOp::Announced => "announced",
            ChangeOp::Notice => "notice",
            ChangeOp::NoticesRead => "notices_read",
            ChangeOp::Message => "message",
            ChangeOp::ChatRoom => "chat_room",
            ChangeOp::ChatInvitation => "chat_invitation",
            ChangeOp::ChatRead => "chat_read",
        }
    }

    /// Parses an op's name; `None` for anything else.
    pub fn parse(s: &str) -> Option<ChangeOp> {
        ChangeOp::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// What an import did to one kind's rows, carried by its [`Change::Bulk`] (one activity
/// entry per import and kind, not one per row).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkCounts {
    /// Records created.
    pub created: u64,
    /// Records changed.
    pub updated: u64,
    /// Rows that matched a record holding those values already.
    pub unchanged: u64,
    /// Rows not written (their key names a deleted record).
    pub skipped: u64,
}

/// How a workspace's membership changed, carried by [`Change::Members`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberHow {
    /// They joined (through an invite link, a claim, or by creating the workspace).
    Joined,
    /// They were removed or left.
    Left,
    /// Their role changed.
    Role,
    /// An import added or changed them.
    Imported,
}

impl MemberHow {
    /// The activity feed's verb ("joined as", ...), followed by the member's name.
    pub fn verb(self) -> &'static str {
        match self {
            MemberHow::Joined => "welcomed",
            MemberHow::Left => "removed",
            MemberHow::Role => "changed the role of",
            MemberHow::Imported => "imported",
        }
    }
}

tag_first_enum! {
tag = "op", rename_all = "snake_case";
/// A committed change, as logged and delivered in `event` frames; each variant carries
/// exactly what it concerns. On the wire an object tagged by `op`. A creation carries the
/// new record and a deletion its tombstone, whole; an update carries only what changed
/// (see [`Change::apply`]). Chat messages, which are not records, are variants of their
/// own in their `chat:{id}` room.
///
/// Payloads logged before protocol 2 (`{op, kind, id, record, fields, actor, at}`) still
/// read: the extra fields are ignored and `id` is taken as the user or invite id; updates
/// logged before protocol 3 (the whole record and the changed names) read through
/// [`LegacyUpdate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// A record was changed: the changed fields' new values and the version they make,
    /// a patch for a client that holds the version before (one that does not fetches
    /// the record whole). Carried by the record's room and its workspace's room.
    Updated {
        /// The record's kind.
        kind: RecordKind,
        /// The record's id.
        id: i64,
        /// Its workspace.
        workspace_id: i64,
        /// The version after the change (the one before is `version - 1`).
        version: i64,
        /// The record's title after the change (for feeds and notifications).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// The changed fields' new values (`Null` for a cleared one); an import sends
        /// every field it wrote.
        fields: Fields,
        /// The changed fields' values before the change (the activity feed's "before").
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        before: Fields,
        /// Titles of what the changed reference fields point at now.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        titles: BTreeMap<String, String>,
        /// Fields written by explicit overwrite (last writer wins, confirmed by the
        /// actor) over someone else's value: logged so the activity feed can say so.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        overwritten: Vec<String>,
        /// Whose values the overwrite replaced (user ids; they are notified).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        overwrote: Vec<i64>,
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
    /// A tombstoned record was brought back (by an admin): the record whole, live again.
    Restored {
        /// The record as restored.
        record: Record,
        /// Who restored it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// Many records of a kind changed at once (an import): reload what you show.
    Bulk {
        /// The kind.
        kind: RecordKind,
        /// What the import did to the kind's rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counts: Option<BulkCounts>,
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
        /// How it changed (missing in logs from before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        how: Option<MemberHow>,
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
    /// An admin's announcement to the workspace (its members are notified). Carried by
    /// the workspace's room.
    Announced {
        /// The workspace.
        workspace_id: i64,
        /// Its one line.
        title: String,
        /// Its text.
        body: String,
        /// How loud its notifications are.
        #[serde(default)]
        priority: crate::model::notify::Priority,
        /// Who announced it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// A notification was made, or its state changed (read, snoozed, dismissed): the
    /// notification as it is now. Carried by its user's room only.
    Notice {
        /// The notification.
        notification: Notification,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// Every notification of the user with an id up to `upto` is read (mark all read).
    /// Carried by the user's room only.
    NoticesRead {
        /// The newest notification marked.
        upto: i64,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// A chat message as it is now: just sent, edited, deleted (a tombstone) or reacted
    /// to. Carried by its chat room.
    Message {
        /// The message.
        message: Box<crate::model::chat::ChatMessage>,
        /// Who did it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// A chat room was made or changed: the room as it is now and how. Carried by the
    /// room's own log, and by the workspace's room for channels and discussions (which
    /// every member sees); a private room's making by its owner's user room.
    ChatRoom {
        /// The room (without any viewer's read marker).
        room: Box<crate::model::chat::ChatRoom>,
        /// What happened.
        how: crate::model::chat::RoomHow,
        /// The user concerned (who joined, left, was removed, invited, got the room).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<i64>,
        /// Who did it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// An invitation to a private room was made or answered: as it is now. Carried by
    /// the invitee's user room (and the inviter's, so both follow it live).
    ChatInvitation {
        /// The invitation.
        invitation: Box<crate::model::chat::ChatInvitation>,
        /// Who did it.
        actor: Option<i64>,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
    /// The user's read marker in a chat room moved to `seq`, leaving `unread` messages
    /// after it. Carried by the user's room, so their other tabs follow.
    ChatRead {
        /// The chat room's id.
        chat: i64,
        /// The position read up to.
        seq: i64,
        /// Messages by others after it, when it was set.
        unread: i64,
        /// When it committed, Unix milliseconds.
        at: i64,
    },
}
}

impl Change {
    /// What the change did.
    pub fn op(&self) -> ChangeOp {
        match self {
            Change::Created { .. } => ChangeOp::Created,
            Change::Updated { .. } => ChangeOp::Updated,
            Change::Deleted { .. } => ChangeOp::Deleted,
            Change::Restored { .. } => ChangeOp::Restored,
            Change::Bulk { .. } => ChangeOp::Bulk,
            Change::Members { .. } => ChangeOp::Members,
            Change::Invites { .. } => ChangeOp::Invites,
            Change::Announced { .. } => ChangeOp::Announced,
            Change::Notice { .. } => ChangeOp::Notice,
            Change::NoticesRead { .. } => ChangeOp::NoticesRead,
            Change::Message { .. } => ChangeOp::Message,
            Change::ChatRoom { .. } => ChangeOp::ChatRoom,
            Change::ChatInvitation { .. } => ChangeOp::ChatInvitation,
            Change::ChatRead { .. } => ChangeOp::ChatRead,
        }
    }

    /// The update of `record` (as it is after the change) in the fields `names`: their
    /// values and the titles of those that are references.
    pub fn updated<'a>(
        record: &Record,
        names: impl IntoIterator<Item = &'a String>,
        actor: Option<i64>,
        at: i64,
    ) -> Change {
        let mut fields = Fields::new();
        let mut titles = BTreeMap::new();
        for name in names {
            fields.insert(name.clone(), record.get(name).clone());
            if let Some(t) = record.titles.get(name) {
                titles.insert(name.clone(), t.clone());
            }
        }
        Change::Updated {
            kind: record.kind,
            id: record.id,
            workspace_id: record.workspace_id,
            version: record.version,
            title: Some(record.title()),
            fields,
            before: Fields::new(),
            titles,
            overwritten: Vec::new(),
            overwrote: Vec::new(),
            actor,
            at,
        }
    }

    /// The whole record it carries (created, tombstoned or restored); an update carries a
    /// patch.
    pub fn record(&self) -> Option<&Record> {
        match self {
            Change::Created { record, .. }
            | Change::Deleted { record, .. }
            | Change::Restored { record, .. } => Some(record),
            _ => None,
        }
    }

    /// The record it concerns: `(kind, id, workspace)`.
    pub fn target(&self) -> Option<(RecordKind, i64, i64)> {
        match self {
            Change::Updated {
                kind,
                id,
                workspace_id,
                ..
            } => Some((*kind, *id, *workspace_id)),
            other => other.record().map(|r| (r.kind, r.id, r.workspace_id)),
        }
    }

    /// Brings `record` (the same record, as the client holds it) to the state after this
    /// change. Returns false, leaving it alone, when it cannot: another record, or an
    /// update whose version does not follow the one held (a missed change; fetch the
    /// record whole). A change already applied (an older or equal version) also returns
    /// false.
    pub fn apply(&self, record: &mut Record) -> bool {
        if self
            .target()
            .is_none_or(|(k, id, _)| (k, id) != (record.kind, record.id))
        {
            return false;
        }
        match self {
            Change::Updated {
                version,
                fields,
                titles,
                actor,
                at,
                ..
            } if *version == record.version + 1 => {
                for (name, value) in fields {
                    record.fields.insert(name.clone(), value.clone());
                    match titles.get(name) {
                        Some(t) => record.titles.insert(name.clone(), t.clone()),
                        None => record.titles.remove(name),
                    };
                }
                record.version = *version;
                record.updated_at = *at;
                record.updated_by = *actor;
                true
            }
            Change::Created { record: r, .. }
            | Change::Deleted { record: r, .. }
            | Change::Restored { record: r, .. }
                if r.version > record.version =>
            {
                *record = r.clone();
                true
            }
            _ => false,
        }
    }

    /// The kind of record it concerns, if any.
    pub fn kind(&self) -> Option<RecordKind> {
        match self {
            Change::Bulk { kind, .. } => Some(*kind),
            other => other.target().map(|(k, _, _)| k),
        }
    }

    /// When it committed, Unix milliseconds.
    pub fn at(&self) -> i64 {
        match self {
            Change::Created { at, .. }
            | Change::Updated { at, .. }
            | Change::Deleted { at, .. }
            | Change::Restored { at, .. }
            | Change::Bulk { at, .. }
            | Change::Members { at, .. }
            | Change::Invites { at, .. }
            | Change::Announced { at, .. }
            | Change::Notice { at, .. }
            | Change::NoticesRead { at, .. }
            | Change::Message { at, .. }
            | Change::ChatRoom { at, .. }
            | Change::ChatInvitation { at, .. }
            | Change::ChatRead { at, .. } => *at,
        }
    }

    /// Who made it (`None` for the system).
    pub fn actor(&self) -> Option<i64> {
        match self {
            Change::Created { actor, .. }
            | Change::Updated { actor, .. }
            | Change::Deleted { actor, .. }
            | Change::Restored { actor, .. }
            | Change::Bulk { actor, .. }
            | Change::Members { actor, .. }
            | Change::Invites { actor, .. }
            | Change::Announced { actor, .. }
            | Change::Message { actor, .. }
            | Change::ChatRoom { actor, .. }
            | Change::ChatInvitation { actor, .. } => *actor,
            Change::Notice { notification, .. } => notification.actor,
            Change::NoticesRead { .. } | Change::ChatRead { .. } => None,
        }
    }

    /// The user whose access to `room` ends with this change, as delivered there (they
    /// left that private chat room or were removed from it): a subscription of theirs to
    /// `room` delivers this change and nothing after it. The same change in their own user
    /// room ends nothing.
    pub fn ends_access_of(&self, room: Room) -> Option<i64> {
        match self {
            Change::ChatRoom {
                room: chat,
                how,
                user: Some(u),
                ..
            } if how.ends_access() && room == Room::Chat(chat.id) => Some(*u),
            _ => None,
        }
    }
}

/// An update as logged before protocol 3: the whole record after it and the names of the
/// fields that changed (none when an import changed it). Read back from old logs only.
#[derive(Clone, Debug, Deserialize)]
pub struct LegacyUpdate {
    /// The record after the change.
    pub record: Record,
    /// Names of the changed fields; empty for an import.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Who made it.
    pub actor: Option<i64>,
    /// When it committed, Unix milliseconds.
    pub at: i64,
}

impl From<LegacyUpdate> for Change {
    fn from(old: LegacyUpdate) -> Change {
        let names: Vec<String> = if old.fields.is_empty() {
            old.record.fields.keys().cloned().collect()
        } else {
            old.fields
        };
        Change::updated(&old.record, &names, old.actor, old.at)
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
    /// The user takes over a field someone else is editing in a record's room: the
    /// room is told (`taken_over`), so the other editor knows; their text stays theirs
    /// and their save goes through the merge like any other.
    TakeOver {
        /// The record's room.
        room: Room,
        /// The field.
        field: String,
    },
    /// Heartbeat; answered by `pong`.
    Ping,
}

impl ClientFrame {
    /// Decodes one frame from a socket's text (the JSON of a WebSocket text message, or
    /// the body of a `POST /sse/{token}`): the one decoder every transport uses. Errors:
    /// what is wrong with the text, for the `bad_frame` error frame. Never panics,
    /// whatever the text (`fuzz/fuzz_targets/client_frame.rs`).
    pub fn decode(text: &str) -> Result<ClientFrame, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

tag_first_enum! {
tag = "type", rename_all = "snake_case";
/// A frame from the server.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// Someone took over a field (see `ClientFrame::TakeOver`).
    TakenOver {
        /// The record's room.
        room: Room,
        /// Who took it over.
        user_id: i64,
        /// The field.
        field: String,
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
    /// The server is shutting down (a restart, a deploy): the socket closes after this
    /// frame (code 1012); reconnect after `delay_ms` (each socket gets its own delay,
    /// spread so a restart is not a stampede) and resume every room from its position.
    Reconnect {
        /// How long to wait before reconnecting, milliseconds.
        delay_ms: u64,
        /// Why, for people.
        reason: String,
    },
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn customer(version: i64, sector: &str) -> Record {
        Record {
            kind: RecordKind::Customer,
            id: 4,
            workspace_id: 1,
            version,
            fields: Fields::from([
                ("name".into(), Value::Text("Acme".into())),
                ("sector".into(), Value::Text(sector.into())),
            ]),
            titles: BTreeMap::new(),
            created_at: 1,
            created_by: None,
            updated_at: version,
            updated_by: None,
            deleted_at: None,
            deleted_by: None,
        }
    }

    #[test]
    fn an_update_carries_only_its_fields_and_applies_to_the_version_before() {
        let after = customer(3, "retail");
        let change = Change::updated(&after, &["sector".to_string()], Some(9), 3);
        let text = serde_json::to_string(&change).expect("serializes");
        // The title rides along for feeds; the unchanged fields themselves stay home.
        assert!(
            !text.contains("\"name\""),
            "unchanged fields stay home: {text}"
        );

        let mut held = customer(2, "media");
        assert!(change.apply(&mut held));
        assert_eq!(held.fields, after.fields);
        assert_eq!((held.version, held.updated_by), (3, Some(9)));
        assert!(!change.apply(&mut held), "applied once");

        let mut behind = customer(1, "media");
        assert!(!change.apply(&mut behind), "a gap: fetch it whole");
        assert_eq!(behind, customer(1, "media"));
    }

    #[test]
    fn updates_logged_before_protocol_3_read_as_patches() {
        let old = serde_json::json!({
            "op": "updated", "record": customer(3, "retail"), "fields": ["sector"],
            "actor": 9, "at": 3,
        });
        let legacy: LegacyUpdate = serde_json::from_value(old).expect("an old update");
        let change = Change::from(legacy);
        let mut held = customer(2, "media");
        assert!(change.apply(&mut held));
        assert_eq!(held.get("sector"), &Value::Text("retail".into()));
    }

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
                how: None,
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
