//! The seam between this node's hub and the other nodes: every frame broadcast to a room,
//! and every access revocation, goes through a `Bus`. The in-process bus (one node) does
//! nothing; a Redis bus (with node-tagged messages, as in socketioxide-redis) takes its
//! place for several nodes.

use app::realtime::protocol::Room;

/// What travels between nodes.
#[derive(Clone, Debug)]
pub enum BusMessage {
    /// A frame for a room's subscribers.
    Frame {
        /// The room.
        room: Room,
        /// `(epoch, offset)` of a change event; `None` for presence and typing frames.
        position: Option<(i64, i64)>,
        /// The frame as JSON text, serialized once by the node that published it.
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
}

/// Carries messages to the hubs of the other nodes. Implementations must not block and
/// must not echo a node's own messages back to it.
pub trait Bus: Send + Sync + 'static {
    /// Sends a message to the other nodes.
    fn publish(&self, message: BusMessage);

    /// Whether there may be other nodes to reach; when not, a frame for a room without
    /// subscribers here is not even serialized.
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
