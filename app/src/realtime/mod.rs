//! Realtime: the wire protocol shared by server and browser, and the browser's
//! connection to `/ws`.

pub mod client;
pub mod protocol;
pub mod tag_first;

pub use client::{
    provide_realtime, use_realtime, ConnectionStatus, Realtime, RealtimeProvider, RoomEvent,
    RoomListener, Transport,
};
