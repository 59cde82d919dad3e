//! Realtime: the hub of rooms and presence, the `/ws` socket, and the bus to other nodes.

pub mod bus;
mod fanout;
pub mod hub;
mod outbox;
pub mod socket;

pub use hub::{Hub, HubConfig};
