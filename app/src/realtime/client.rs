//! The browser's side of `/ws`: one connection per tab that reconnects with exponential
//! backoff and jitter, resumes every room from the last (epoch, offset) it applied,
//! applies each room's events exactly once and in order, and queues frames while
//! disconnected. Components use it through the [`Realtime`] handle from context; during
//! server rendering the handle does nothing.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::protocol::{Change, ClientFrame, Editing, PresenceEntry, Room, Status};

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
}

/// What a room's listener is told.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomEvent {
    /// A committed change, in order, exactly once.
    Change(Box<Change>),
    /// Events may have been missed: reload what you show from the server.
    Resync,
}

/// The realtime connection, from context (`use_realtime`). Cheap to copy.
#[derive(Clone, Copy)]
pub struct Realtime {
    status: RwSignal<ConnectionStatus>,
    presence: RwSignal<BTreeMap<Room, Vec<PresenceEntry>>>,
    me: RwSignal<Option<i64>>,
}

impl Realtime {
    /// The connection's state.
    pub fn status(&self) -> ReadSignal<ConnectionStatus> {
        self.status.read_only()
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
    /// resync. Does nothing during server rendering.
    pub fn listen(&self, room: Room, on_event: impl Fn(RoomEvent) + 'static) {
        #[cfg(feature = "hydrate")]
        {
            let id = browser::listen(room, std::rc::Rc::new(on_event));
            on_cleanup(move || browser::unlisten(room, id));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (room, on_event);
    }

    /// Tells a room this user is typing (in `field`, if given); queued while offline.
    pub fn typing(&self, room: Room, field: Option<String>) {
        #[cfg(feature = "hydrate")]
        browser::send(ClientFrame::Typing { room, field }, false);
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
mod browser {
    //! The socket itself: browser-only, single-threaded state in a thread local.

    use std::cell::RefCell;
    use std::collections::{HashMap, VecDeque};
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{ConnectionStatus, Realtime, RoomEvent};
    use crate::realtime::protocol::{ClientFrame, Position, Room, ServerFrame, PROTOCOL_VERSION};

    type Listener = Rc<dyn Fn(RoomEvent)>;

    struct Sub {
        /// Last applied position; `None` until subscribed (or after a resync).
        position: Option<Position>,
        listeners: Vec<(u64, Listener)>,
    }

    struct Client {
        handle: Realtime,
        ws: Option<WebSocket>,
        rooms: HashMap<Room, Sub>,
        /// Frames sent while disconnected, sent on reconnect (bounded).
        queue: VecDeque<String>,
        /// The last presence frame, re-sent on each connection.
        presence: Option<String>,
        attempt: u32,
        next_listener: u64,
        started: bool,
        /// Keeps the socket's and window's callbacks alive.
        callbacks: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    thread_local! {
        static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
    }

    fn with<R>(f: impl FnOnce(&mut Client) -> R) -> Option<R> {
        CLIENT.with(|c| c.borrow_mut().as_mut().map(f))
    }

    const QUEUE_LIMIT: usize = 100;

    /// Creates the tab's client (or hands an existing one the new handle), unconnected.
    pub fn init(handle: Realtime) {
        CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            match c.as_mut() {
                Some(client) => {
                    client.handle = handle;
                    let status = if client.ws.is_some() {
                        ConnectionStatus::Connected
                    } else {
                        ConnectionStatus::Connecting
                    };
                    handle.status.set(status);
                }
                None => {
                    *c = Some(Client {
                        handle,
                        ws: None,
                        rooms: HashMap::new(),
                        queue: VecDeque::new(),
                        presence: None,
                        attempt: 0,
                        next_listener: 1,
                        started: false,
                        callbacks: Vec::new(),
                    });
                }
            }
        });
    }

    /// Connects, once per tab.
    pub fn start() {
        let fresh = with(|c| !std::mem::replace(&mut c.started, true)).unwrap_or(false);
        if !fresh {
            return;
        }
        // Offline and online: close at once when the browser goes offline, reconnect (and
        // resume) the moment it is back.
        let window = window();
        let offline = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let ws = with(|c| {
                c.handle.status.set(ConnectionStatus::Offline);
                c.ws.take()
            })
            .flatten();
            if let Some(ws) = ws {
                detach(&ws);
                let _ = ws.close();
            }
        });
        let online = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            with(|c| c.attempt = 0);
            connect();
        });
        let _ =
            window.add_event_listener_with_callback("offline", offline.as_ref().unchecked_ref());
        let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
        with(|c| {
            c.callbacks.push(offline);
            c.callbacks.push(online);
        });
        // Heartbeat: a ping every 25 s keeps the server from dropping a quiet socket.
        let _ =
            set_interval_with_handle(|| send(ClientFrame::Ping, false), Duration::from_secs(25));
        connect();
    }

    /// Unhooks a socket being replaced, before its callbacks are dropped.
    fn detach(ws: &WebSocket) {
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onclose(None);
    }

    fn url() -> String {
        let location = window().location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/ws", location.host().unwrap_or_default())
    }

    fn connect() {
        if !window().navigator().on_line() {
            with(|c| c.handle.status.set(ConnectionStatus::Offline));
            return;
        }
        let Ok(ws) = WebSocket::new(&url()) else {
            schedule_reconnect();
            return;
        };
        let onopen = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_open());
        let onmessage = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            if let Some(text) = e
                .dyn_ref::<MessageEvent>()
                .and_then(|m| m.data().as_string())
            {
                on_frame(&text);
            }
        });
        let onclose = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let _ = e.dyn_ref::<CloseEvent>();
            with(|c| c.ws = None);
            schedule_reconnect();
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        with(|c| {
            if let Some(old) = c.ws.replace(ws) {
                detach(&old);
                let _ = old.close();
            }
            c.callbacks.extend([onopen, onmessage, onclose]);
            // Only the newest socket's three callbacks and the two window listeners matter.
            let keep = c.callbacks.len().saturating_sub(5);
            if keep > 0 {
                c.callbacks.drain(2..2 + keep.min(c.callbacks.len() - 2));
            }
        });
    }

    /// Backoff: 0.5 s doubling to at most 30 s, each wait randomised to 50-100 % (jitter).
    fn schedule_reconnect() {
        let Some((attempt, online)) = with(|c| {
            c.attempt += 1;
            (c.attempt, window().navigator().on_line())
        }) else {
            return;
        };
        if !online {
            with(|c| c.handle.status.set(ConnectionStatus::Offline));
            return;
        }
        let base = (500.0 * 2f64.powi(attempt.min(6) as i32)).min(30_000.0);
        let wait = base * (0.5 + js_sys::Math::random() * 0.5);
        with(|c| {
            c.handle.status.set(ConnectionStatus::Reconnecting {
                attempt,
                next_in_secs: (wait / 1000.0).ceil() as u32,
            })
        });
        set_timeout(connect, Duration::from_millis(wait as u64));
    }

    fn raw_send(c: &Client, text: &str) -> bool {
        match &c.ws {
            Some(ws) if ws.ready_state() == WebSocket::OPEN => ws.send_with_str(text).is_ok(),
            _ => false,
        }
    }

    fn frame(f: &ClientFrame) -> String {
        serde_json::to_string(f).unwrap_or_default()
    }

    /// Sends a frame now, or queues it until the socket is open. A presence frame is
    /// remembered and re-sent on every new connection instead of being queued.
    pub fn send(f: ClientFrame, is_presence: bool) {
        let text = frame(&f);
        with(|c| {
            if is_presence {
                c.presence = Some(text.clone());
            }
            if !raw_send(c, &text)
                && !is_presence
                && !matches!(f, ClientFrame::Ping)
                && c.queue.len() < QUEUE_LIMIT
            {
                c.queue.push_back(text);
            }
        });
    }

    fn on_open() {
        with(|c| {
            c.attempt = 0;
            c.handle.status.set(ConnectionStatus::Connected);
            raw_send(
                c,
                &frame(&ClientFrame::Hello {
                    version: PROTOCOL_VERSION,
                }),
            );
            if let Some(p) = c.presence.clone() {
                raw_send(c, &p);
            }
            let subs: Vec<(Room, Option<Position>)> =
                c.rooms.iter().map(|(r, s)| (*r, s.position)).collect();
            for (room, since) in subs {
                raw_send(c, &frame(&ClientFrame::Subscribe { room, since }));
            }
            while let Some(text) = c.queue.pop_front() {
                raw_send(c, &text);
            }
        });
    }

    pub fn listen(room: Room, listener: Listener) -> u64 {
        with(|c| {
            let id = c.next_listener;
            c.next_listener += 1;
            let sub = c.rooms.entry(room).or_insert_with(|| Sub {
                position: None,
                listeners: Vec::new(),
            });
            sub.listeners.push((id, listener));
            if sub.listeners.len() == 1 {
                raw_send(c, &frame(&ClientFrame::Subscribe { room, since: None }));
            }
            id
        })
        .unwrap_or(0)
    }

    pub fn unlisten(room: Room, id: u64) {
        with(|c| {
            let empty = match c.rooms.get_mut(&room) {
                Some(sub) => {
                    sub.listeners.retain(|(i, _)| *i != id);
                    sub.listeners.is_empty()
                }
                None => false,
            };
            if empty {
                c.rooms.remove(&room);
                raw_send(c, &frame(&ClientFrame::Unsubscribe { room }));
                c.handle.presence.update(|p| {
                    p.remove(&room);
                });
            }
        });
    }

    /// Applies a frame. Listeners run after the client's state is released, so they may
    /// call back into it.
    fn on_frame(text: &str) {
        let Ok(f) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        let mut calls: Vec<(Listener, RoomEvent)> = Vec::new();
        with(|c| match f {
            ServerFrame::Welcome { user_id, .. } => c.handle.me.set(Some(user_id)),
            ServerFrame::Subscribed {
                room,
                position,
                presence,
            } => {
                if let Some(sub) = c.rooms.get_mut(&room) {
                    // Resuming keeps our position (the replay follows); fresh starts at the head.
                    if sub.position.is_none_or(|p| p.epoch != position.epoch) {
                        sub.position = Some(position);
                    }
                }
                c.handle.presence.update(|p| {
                    p.insert(room, presence);
                });
            }
            ServerFrame::Event {
                room,
                position,
                change,
            } => {
                let Some(sub) = c.rooms.get_mut(&room) else {
                    return;
                };
                match sub.position {
                    Some(p) if p.epoch == position.epoch && position.offset == p.offset + 1 => {
                        sub.position = Some(position);
                        for (_, l) in &sub.listeners {
                            calls.push((l.clone(), RoomEvent::Change(Box::new(change.clone()))));
                        }
                    }
                    Some(p) if p.epoch == position.epoch && position.offset <= p.offset => {}
                    Some(p) => {
                        // A gap: ask the server to replay from what we have.
                        raw_send(
                            c,
                            &frame(&ClientFrame::Subscribe {
                                room,
                                since: Some(p),
                            }),
                        );
                    }
                    None => {}
                }
            }
            ServerFrame::Resync { room, .. } => {
                if let Some(sub) = c.rooms.get_mut(&room) {
                    sub.position = None;
                    for (_, l) in &sub.listeners {
                        calls.push((l.clone(), RoomEvent::Resync));
                    }
                    raw_send(c, &frame(&ClientFrame::Subscribe { room, since: None }));
                }
            }
            ServerFrame::PresenceDiff {
                room,
                joins,
                leaves,
            } => {
                c.handle.presence.update(|p| {
                    let list = p.entry(room).or_default();
                    list.retain(|e| {
                        !leaves.contains(&e.user_id)
                            && !joins.iter().any(|j| j.user_id == e.user_id)
                    });
                    list.extend(joins);
                    list.sort_by(|a, b| a.name.cmp(&b.name));
                });
            }
            ServerFrame::Typing { .. } | ServerFrame::Error { .. } | ServerFrame::Pong => {}
        });
        for (listener, event) in calls {
            listener(event);
        }
    }
}
