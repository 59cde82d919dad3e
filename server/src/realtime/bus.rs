//! The seam between this node's hub and the other nodes: every frame broadcast to a room
//! goes through a `Bus`. The in-process bus (one node) does nothing; a Redis bus (with
//! node-tagged messages, as in socketioxide-redis) takes its place for several nodes.

use std::sync::Arc;

use app::realtime::protocol::Room;

/// A frame for a room, as it travels between nodes.
#[derive(Clone, Debug)]
pub struct BusMessage {
    /// The room.
    pub room: Room,
    /// `(epoch, offset)` of a change event; `None` for presence and typing frames.
    pub position: Option<(i64, i64)>,
    /// The frame as JSON text, serialized once by the node that published it.
    pub frame: Arc<str>,
}

/// Carries frames to the hubs of the other nodes. Implementations must not block and
/// must not echo a node's own messages back to it.
pub trait Bus: Send + Sync + 'static {
    /// Sends a frame to the other nodes.
    fn publish(&self, message: BusMessage);
}

/// The bus of a single node: there is nobody else to tell.
pub struct InProcessBus;

impl Bus for InProcessBus {
    fn publish(&self, _message: BusMessage) {}
}
