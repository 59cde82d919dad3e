//! The browser's side of `/ws` (or of its fallback, `/sse`, where WebSockets are
//! blocked): one connection per tab that reconnects with exponential
//! backoff and jitter, resumes every room from the last (epoch, offset) it applied,
//! applies each room's events exactly once and in order, and queues frames while
//! disconnected. Components use it through the [`Realtime`] handle from context; during
//! server rendering the handle does nothing.
//!
//! Each listener of a room keeps its own position: a page that loaded its data at a
//! position (its loader read the room's head before the data) calls
//! [`RoomListener::resume`] with it, and the client asks the server to replay from there
//! if its stream started later, so a write committed between the page's query and the
//! socket's subscribe is never missed; what a listener already has is skipped.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::protocol::{Change, ClientFrame, Editing, Position, PresenceEntry, Room, Status};

/// What the connection indicator shows.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum ConnectionStatus {
    /// Opening the first connection.
    #[default]
    Connecting,
    /// Connected.
    Connected,
    /// Lost; trying again.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Seconds until the next try.
        next_in_secs: u32,
    },
    /// The browser is offline; reconnects when it is back.
    Offline,
    /// The session ended (signed out here or elsewhere, or expired): the server closed
    /// the socket, and it is not reopened until the page is loaded signed in.
    SignedOut,
}

/// What carries the tab's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// A WebSocket (`/ws`), the usual way.
    #[default]
    WebSocket,
    /// Server-sent events from the server (`/sse`) and a POST per frame to it: the
    /// fallback after WebSockets failed to open twice in a tab where none ever worked (a
    /// proxy that refuses upgrades). Same protocol, same resume.
    ServerSentEvents,
}

/// What a room's listener is told.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomEvent {
    /// A committed change, in order, exactly once, with its position in the room's log.
    Change(Box<Change>, Position),
    /// Events may have been missed: reload what you show from the server.
    Resync,
    /// Someone is typing in the room (in `field`, if given); ephemeral, not replayed.
    Typing {
        /// Who.
        user_id: i64,
        /// The field.
        field: Option<String>,
    },
    /// Someone took over `field` (they edit it now; whoever was in it keeps their text
    /// and saves through the merge).
    TakenOver {
        /// Who.
        user_id: i64,
        /// The field.
        field: String,
    },
}

/// The realtime connection, from context (`use_realtime`). Cheap to copy.
#[derive(Clone, Copy)]
pub struct Realtime {
    status: RwSignal<ConnectionStatus>,
    transport: RwSignal<Transport>,
    presence: RwSignal<BTreeMap<Room, Vec<PresenceEntry>>>,
    me: RwSignal<Option<i64>>,
}

impl Realtime {
    /// The connection's state.
    pub fn status(&self) -> ReadSignal<ConnectionStatus> {
        self.status.read_only()
    }

    /// What carries the connection (the one last opened, or being tried).
    pub fn transport(&self) -> ReadSignal<Transport> {
        self.transport.read_only()
    }

    /// Who is in a room (updated live while some component listens to the room).
    pub fn presence(&self, room: Room) -> Signal<Vec<PresenceEntry>> {
        let presence = self.presence;
        Signal::derive(move || presence.with(|p| p.get(&room).cloned().unwrap_or_default()))
    }

    /// The signed-in user's id, once the server has welcomed the socket.
    pub fn me(&self) -> ReadSignal<Option<i64>> {
        self.me.read_only()
    }

    /// Listens to a room for the life of the calling component: subscribes (resuming
    /// where the tab left off) and calls `on_event` for each change, in order, and on
    /// resync (then reload, and call [`RoomListener::resume`] with the new data's
    /// position). Does nothing during server rendering.
    pub fn listen(&self, room: Room, on_event: impl Fn(RoomEvent) + 'static) -> RoomListener {
        #[cfg(feature = "hydrate")]
        {
            let id = browser::listen(room, std::rc::Rc::new(on_event));
            on_cleanup(move || browser::unlisten(room, id));
            RoomListener { room, id }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = on_event;
            RoomListener { room, id: 0 }
        }
    }

    /// Tells a room this user is typing (in `field`, if given); queued while offline.
    pub fn typing(&self, room: Room, field: Option<String>) {
        #[cfg(feature = "hydrate")]
        browser::send(ClientFrame::Typing { room, field }, false);
        #[cfg(not(feature = "hydrate"))]
        let _ = (room, field);
    }

    /// Tells a record's room this user takes over `field` from whoever is editing it.
    pub fn take_over(&self, room: Room, field: String) {
        #[cfg(feature = "hydrate")]
        browser::send(ClientFrame::TakeOver { room, field }, false);
        #[cfg(not(feature = "hydrate"))]
        let _ = (room, field);
    }

    /// Sets this tab's presence (status, page, field being edited) in every room it is in.
    pub fn set_presence(&self, status: Status, page: String, editing: Option<Editing>) {
        #[cfg(feature = "hydrate")]
        browser::send(
            ClientFrame::Presence {
                status,
                page,
                editing,
            },
            true,
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (status, page, editing, ClientFrame::Ping);
    }
}

/// One listener of a room, from [`Realtime::listen`]. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct RoomListener {
    room: Room,
    id: u64,
}

impl RoomListener {
    /// Tells the client that this listener's data reflects every event of the room up
    /// to `position` (the position its loader returned): events after it are delivered,
    /// those at or before it are not, and anything the socket's stream started after is
    /// replayed from the server.
    pub fn resume(&self, position: Position) {
        #[cfg(feature = "hydrate")]
        browser::resume(self.room, self.id, position);
        #[cfg(not(feature = "hydrate"))]
        let _ = (self.room, self.id, position);
    }
}

/// Gives its children the tab's realtime connection through context: `listen` joins a
/// room (subscribe) for the life of the calling component and leaves it after,
/// `set_presence` and `typing` emit ephemeral state, `presence` and `status` read it.
/// Named after the specification's RealtimeProvider.
#[component]
pub fn RealtimeProvider(children: Children) -> impl IntoView {
    provide_realtime();
    children()
}

/// The handle provided by [`provide_realtime`].
pub fn use_realtime() -> Option<Realtime> {
    use_context::<Realtime>()
}

/// Creates the tab's connection (in the browser) and provides the [`Realtime`] handle.
pub fn provide_realtime() -> Realtime {
    let handle = Realtime {
        status: RwSignal::new(ConnectionStatus::Connecting),
        transport: RwSignal::new(Transport::WebSocket),
        presence: RwSignal::new(BTreeMap::new()),
        me: RwSignal::new(None),
    };
    provide_context(handle);
    // The client exists before any page listens; it connects once the page has hydrated.
    #[cfg(feature = "hydrate")]
    {
        browser::init(handle);
        Effect::new(move |_| browser::start());
    }
    handle
}

#[cfg(feature = "hydrate")]
mod browser;
