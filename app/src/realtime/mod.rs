//! Realtime: the wire protocol shared by server and browser.

pub mod protocol;
