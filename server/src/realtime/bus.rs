//! The seam between this node's hub and the other nodes: every frame broadcast to a room,
//! every presence change and every access revocation goes through a `Bus`. The
//! in-process bus (one node) does nothing; the Redis bus ([`super::redis_bus`], with
//! node-tagged messages, as in socketioxide-redis) takes its place for several nodes.

use app::realtime::protocol::{PresenceEntry, Room};
use serde::{Deserialize, Serialize};

/// What travels between nodes. Serialized as JSON on the Redis bus, with the sending
/// node's id beside it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusMessage {
    /// A frame for a room's subscribers.
    Frame {
        /// The room.
        room: Room,
        /// `(epoch, offset)` of a change event; `None` for typing frames.
        position: Option<(i64, i64)>,
        /// The frame as JSON text, serialized once by the node that published it.
        #[serde(with = "frame_text")]
        frame: crate::realtime::hub::Frame,
        /// The user whose access to the room ends with this event, if any.
        ends_for: Option<i64>,
    },
    /// Re-authorize every socket of this user (a removal or a role change).
    RecheckUser {
        /// The user's id.
        user: i64,
    },
    /// Close every socket opened with this session (signed out).
    EndSession {
        /// The session's id.
        session: String,
    },
    /// The sending node's entry for a user in a room changed: `Some` (joined or changed)
    /// or `None` (left, after the grace period).
    Presence {
        /// The room.
        room: Room,
        /// The user.
        user: i64,
        /// The entry the sending node holds now.
        entry: Option<PresenceEntry>,
    },
    /// Every entry the sending node holds, sent every presence heartbeat: it keeps them
    /// alive on the other nodes (which drop entries not refreshed within the presence
    /// TTL, so a dead node's users leave) and replaces whatever they held for it.
    PresenceAlive {
        /// `(room, entry)` pairs.
        entries: Vec<(Room, PresenceEntry)>,
    },
    /// A node that just connected asks the others for their entries at once (each
    /// answers with a [`BusMessage::PresenceAlive`]).
    PresenceQuery,
}

/// A frame's text as a JSON string.
mod frame_text {
    use crate::realtime::hub::Frame;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(frame: &Frame, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(frame.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Frame, D::Error> {
        String::deserialize(d).map(Frame::from)
    }
}

/// Carries messages to the hubs of the other nodes. Implementations must not block and
/// must not echo a node's own messages back to it.
pub trait Bus: Send + Sync + 'static {
    /// Sends a message to the other nodes.
    fn publish(&self, message: BusMessage);

    /// Whether there may be other nodes to reach; when not, a frame for a room without
    /// subscribers here is not even serialized, and no presence heartbeat runs.
    fn reaches_others(&self) -> bool {
        true
    }
}

/// The bus of a single node: there is nobody else to tell.
pub struct InProcessBus;

impl Bus for InProcessBus {
    fn publish(&self, _message: BusMessage) {}

    fn reaches_others(&self) -> bool {
        false
    }
}
