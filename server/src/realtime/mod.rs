//! Realtime: the hub of rooms and presence, the `/ws` socket (and its fallback over
//! server-sent events), and the bus to other nodes.

pub mod bus;
mod fanout;
pub mod hub;
pub mod outbox;
pub mod redis_bus;
pub mod socket;
pub mod sse;
pub mod subscription;

pub use hub::{Hub, HubConfig};
