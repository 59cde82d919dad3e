//! The connection itself: browser-only, single-threaded state in a thread local, kept
//! apart from the handle so that server rendering never compiles it. A WebSocket, or
//! where those fail to open, server-sent events with a POST per frame (see
//! [`Transport`]).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos_use::{use_event_listener, use_interval_fn};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, EventSource, MessageEvent, WebSocket};

use super::{ConnectionStatus, Realtime, RoomEvent, Transport};
use crate::realtime::protocol::{ClientFrame, Position, Room, ServerFrame, PROTOCOL_VERSION};

type Listener = Rc<dyn Fn(RoomEvent)>;

/// One listener and the last position it has (from its data or from events).
struct Entry {
    id: u64,
    f: Listener,
    /// `None` until subscribed (or after a resync) if its data brought none.
    applied: Option<Position>,
}

/// A room this tab is in.
struct Sub {
    listeners: Vec<Entry>,
    /// The server delivers every event after this position (the head of the last
    /// `subscribed`, or the `since` it was asked to replay from); `None` while no
    /// subscription stands (not yet, after a resync, or refused).
    stream_from: Option<Position>,
    /// A subscribe was sent and its `subscribed` has not arrived; `asked` is its `since`.
    pending: bool,
    asked: Option<Position>,
}

impl Sub {
    fn new() -> Self {
        Sub {
            listeners: Vec::new(),
            stream_from: None,
            pending: false,
            asked: None,
        }
    }

    /// The oldest position a listener has, if every listener has one of one epoch.
    fn oldest(&self) -> Option<Position> {
        let mut oldest: Option<Position> = None;
        for e in &self.listeners {
            let a = e.applied?;
            match oldest {
                Some(o) if o.epoch != a.epoch => return None,
                Some(o) if o.offset <= a.offset => {}
                _ => oldest = Some(a),
            }
        }
        oldest
    }

    /// The subscribe frame that makes the server deliver what every listener lacks,
    /// marking it pending; `None` when the stream already covers them.
    fn catch_up(&mut self, room: Room) -> Option<ClientFrame> {
        if self.pending {
            return None;
        }
        let since = self.oldest();
        let covered = match (self.stream_from, since) {
            (Some(from), Some(s)) => from.epoch == s.epoch && from.offset <= s.offset,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if covered {
            return None;
        }
        self.pending = true;
        self.asked = since;
        Some(ClientFrame::Subscribe { room, since })
    }
}

/// The open (or opening) connection.
enum Link {
    Ws(WebSocket),
    /// The event stream, and the token frames POSTed back must name (from its first
    /// event; until then frames wait in the queue).
    Sse(EventSource, Option<String>),
}

impl Link {
    /// Closes it without its callbacks firing again.
    fn shut(self) {
        match self {
            Link::Ws(ws) => {
                detach(&ws);
                let _ = ws.close();
            }
            // A closed EventSource fires nothing more.
            Link::Sse(source, _) => source.close(),
        }
    }
}

struct Client {
    handle: Realtime,
    link: Option<Link>,
    /// What the next connection uses.
    transport: Transport,
    /// WebSockets in a row that closed before the server's welcome.
    ws_failures: u32,
    /// Whether a WebSocket ever got the welcome in this tab (then failures are outages,
    /// not a proxy refusing upgrades, and the tab never falls back).
    ws_worked: bool,
    /// Whether the current connection got the welcome.
    welcomed: bool,
    /// Frames waiting to be POSTed on the event stream's connection, in order, and
    /// whether a POST is under way.
    posts: VecDeque<String>,
    posting: bool,
    rooms: HashMap<Room, Sub>,
    /// Frames sent while disconnected, sent on reconnect (bounded).
    queue: VecDeque<String>,
    /// The last presence frame, re-sent on each connection.
    presence: Option<String>,
    attempt: u32,
    next_listener: u64,
    started: bool,
    /// Keeps the current socket's callbacks (open, message, close) alive.
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
                let status = if client.link.is_some() {
                    ConnectionStatus::Connected
                } else {
                    ConnectionStatus::Connecting
                };
                handle.status.set(status);
            }
            None => {
                *c = Some(Client {
                    handle,
                    link: None,
                    transport: Transport::WebSocket,
                    ws_failures: 0,
                    ws_worked: false,
                    welcomed: false,
                    posts: VecDeque::new(),
                    posting: false,
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
    // resume) the moment it is back. leptos-use owns the listeners and the heartbeat's
    // interval (and removes them with the provider's owner), so no closure is kept here.
    let _ = use_event_listener(window(), leptos::ev::offline, move |_| {
        let link = with(|c| {
            c.handle.status.set(ConnectionStatus::Offline);
            c.link.take()
        })
        .flatten();
        if let Some(link) = link {
            link.shut();
        }
    });
    let _ = use_event_listener(window(), leptos::ev::online, move |_| {
        with(|c| c.attempt = 0);
        connect();
    });
    // Heartbeat: a ping every 25 s keeps the server from dropping a quiet socket.
    let _ = use_interval_fn(|| send(ClientFrame::Ping, false), 25_000);
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

/// Replaces the current connection (if any) with `link`, keeping its callbacks alive.
fn install(link: Link, callbacks: Vec<Closure<dyn FnMut(web_sys::Event)>>) {
    with(|c| {
        c.welcomed = false;
        // Frames for the old connection go with it; a loop still posting to it stops
        // by itself, so the new connection's first frame starts a loop of its own.
        c.posts.clear();
        c.posting = false;
        c.handle.transport.set(c.transport);
        if let Some(old) = c.link.replace(link) {
            old.shut();
        }
        // The replaced connection was shut above, so its callbacks can go.
        c.callbacks = callbacks;
    });
}

fn connect() {
    if !window().navigator().on_line() {
        with(|c| c.handle.status.set(ConnectionStatus::Offline));
        return;
    }
    match with(|c| c.transport) {
        Some(Transport::ServerSentEvents) => connect_sse(),
        _ => connect_ws(),
    }
}

/// A WebSocket closed (or failed to open) before the welcome: after the second in a row
/// in a tab where none ever worked, the next connections use server-sent events.
fn ws_failed() {
    with(|c| {
        c.ws_failures += 1;
        if !c.ws_worked && c.ws_failures >= 2 {
            c.transport = Transport::ServerSentEvents;
        }
    });
}

fn connect_sse() {
    let Ok(source) = EventSource::new("/sse") else {
        schedule_reconnect();
        return;
    };
    let on_token = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let token = e
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string());
        with(|c| {
            if let Some(Link::Sse(_, t)) = &mut c.link {
                *t = token;
            }
        });
        on_open();
    });
    let onmessage = on_message();
    // The server ended the connection: `{"code":…}` as a WebSocket would close.
    let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let code = e
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string())
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|v| v["code"].as_u64());
        lost(code == Some(u64::from(crate::realtime::protocol::CLOSE_SESSION_ENDED)));
    });
    // Lost or refused: the EventSource would retry on its own, without resuming; it is
    // shut and the tab reconnects (and resumes) itself.
    let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| lost(false));
    let _ = source.add_event_listener_with_callback("token", on_token.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("close", on_close.as_ref().unchecked_ref());
    source.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    source.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    install(
        Link::Sse(source, None),
        vec![on_token, onmessage, on_close, onerror],
    );
}

/// The callback that applies each frame a message event carries (either transport).
fn on_message() -> Closure<dyn FnMut(web_sys::Event)> {
    Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        if let Some(text) = e
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string())
        {
            on_frame(&text);
        }
    })
}

/// The connection ended (`ended`: the session did, so it stays closed).
fn lost(ended: bool) {
    if let Some(link) = with(|c| c.link.take()).flatten() {
        link.shut();
    }
    if ended {
        with(|c| c.handle.status.set(ConnectionStatus::SignedOut));
    } else {
        schedule_reconnect();
    }
}

fn connect_ws() {
    let Ok(ws) = WebSocket::new(&url()) else {
        ws_failed();
        schedule_reconnect();
        return;
    };
    let onopen = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_open());
    let onmessage = on_message();
    let onclose = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let ended = e
            .dyn_ref::<CloseEvent>()
            .is_some_and(|c| c.code() == crate::realtime::protocol::CLOSE_SESSION_ENDED);
        if with(|c| c.welcomed) == Some(false) {
            ws_failed();
        }
        lost(ended);
    });
    ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    install(Link::Ws(ws), vec![onopen, onmessage, onclose]);
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

fn raw_send(c: &mut Client, text: &str) -> bool {
    match &c.link {
        Some(Link::Ws(ws)) if ws.ready_state() == WebSocket::OPEN => ws.send_with_str(text).is_ok(),
        Some(Link::Sse(_, Some(token))) => {
            let token = token.clone();
            c.posts.push_back(text.to_string());
            if !std::mem::replace(&mut c.posting, true) {
                wasm_bindgen_futures::spawn_local(post_frames(token));
            }
            true
        }
        _ => false,
    }
}

/// POSTs the waiting frames of the event stream's connection `token`, one at a time (so
/// they arrive in order), until none wait or the tab has moved to another connection
/// (whose own loop, started by its first frame, sends them). A POST that fails or is
/// refused means the connection is gone or going: it is shut and the tab reconnects,
/// sending its state (subscriptions, presence) again on the new one.
async fn post_frames(token: String) {
    loop {
        let next = with(|c| match &c.link {
            Some(Link::Sse(_, Some(t))) if *t == token => match c.posts.pop_front() {
                Some(text) => Some(text),
                None => {
                    c.posting = false;
                    None
                }
            },
            // Another connection now: its frames are not this loop's to send.
            _ => None,
        })
        .flatten();
        let Some(text) = next else {
            return;
        };
        let sent = match gloo_net::http::Request::post(&format!("/sse/{token}"))
            .header("content-type", "application/json")
            .body(text)
        {
            Ok(req) => req.send().await.is_ok_and(|r| r.ok()),
            Err(_) => false,
        };
        if !sent {
            let current = with(|c| matches!(&c.link, Some(Link::Sse(_, Some(t))) if *t == token))
                .unwrap_or(false);
            if current {
                lost(false);
            }
            return;
        }
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
        c.handle.transport.set(c.transport);
        raw_send(
            c,
            &frame(&ClientFrame::Hello {
                version: PROTOCOL_VERSION,
            }),
        );
        if let Some(p) = c.presence.clone() {
            raw_send(c, &p);
        }
        let mut frames = Vec::new();
        for (room, sub) in c.rooms.iter_mut() {
            sub.stream_from = None;
            sub.pending = false;
            frames.extend(sub.catch_up(*room));
        }
        for f in frames {
            raw_send(c, &frame(&f));
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
        let sub = c.rooms.entry(room).or_insert_with(Sub::new);
        // Until its data says otherwise, a new listener starts where the stream is.
        let applied = sub
            .stream_from
            .and(sub.listeners.iter().find_map(|e| e.applied));
        sub.listeners.push(Entry {
            id,
            f: listener,
            applied,
        });
        if let Some(f) = sub.catch_up(room) {
            raw_send(c, &frame(&f));
        }
        id
    })
    .unwrap_or(0)
}

/// A listener's data reflects the room up to `position`.
pub fn resume(room: Room, id: u64, position: Position) {
    with(|c| {
        let Some(sub) = c.rooms.get_mut(&room) else {
            return;
        };
        if let Some(e) = sub.listeners.iter_mut().find(|e| e.id == id) {
            // Data older than events already applied (a reload that raced them):
            // those events must come again, so the stream no longer covers them.
            let behind = e
                .applied
                .is_some_and(|a| a.epoch == position.epoch && a.offset > position.offset);
            e.applied = Some(position);
            if behind {
                sub.stream_from = None;
            }
        }
        if let Some(f) = sub.catch_up(room) {
            raw_send(c, &frame(&f));
        }
    });
}

pub fn unlisten(room: Room, id: u64) {
    with(|c| {
        let empty = match c.rooms.get_mut(&room) {
            Some(sub) => {
                sub.listeners.retain(|e| e.id != id);
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
        ServerFrame::Welcome { user_id, .. } => {
            c.welcomed = true;
            if matches!(c.link, Some(Link::Ws(_))) {
                c.ws_worked = true;
                c.ws_failures = 0;
            }
            c.handle.me.set(Some(user_id));
        }
        ServerFrame::Subscribed {
            room,
            position,
            presence,
        } => {
            if let Some(sub) = c.rooms.get_mut(&room) {
                sub.pending = false;
                let asked = sub.asked.take().filter(|a| a.epoch == position.epoch);
                sub.stream_from = Some(asked.unwrap_or(position));
                for e in &mut sub.listeners {
                    if e.applied.is_none_or(|a| a.epoch != position.epoch) {
                        e.applied = Some(position);
                    }
                }
                if let Some(f) = sub.catch_up(room) {
                    raw_send(c, &frame(&f));
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
            let mut gap = false;
            for e in &mut sub.listeners {
                match e.applied {
                    Some(a) if a.epoch == position.epoch && position.offset == a.offset + 1 => {
                        e.applied = Some(position);
                        calls.push((
                            e.f.clone(),
                            RoomEvent::Change(Box::new(change.clone()), position),
                        ));
                    }
                    Some(a) if a.epoch == position.epoch && position.offset <= a.offset => {}
                    Some(a) if a.epoch == position.epoch => gap = true,
                    _ => {}
                }
            }
            if gap && !sub.pending {
                // A listener lacks events before this one: replay from what it has.
                sub.stream_from = None;
                if let Some(f) = sub.catch_up(room) {
                    raw_send(c, &frame(&f));
                }
            }
        }
        ServerFrame::Resync { room, .. } => {
            if let Some(sub) = c.rooms.get_mut(&room) {
                sub.stream_from = None;
                sub.pending = true;
                sub.asked = None;
                for e in &mut sub.listeners {
                    e.applied = None;
                    calls.push((e.f.clone(), RoomEvent::Resync));
                }
                raw_send(c, &frame(&ClientFrame::Subscribe { room, since: None }));
            }
        }
        ServerFrame::Error {
            code,
            room: Some(room),
            ..
        } => {
            let Some(sub) = c.rooms.get_mut(&room) else {
                return;
            };
            sub.stream_from = None;
            if code == crate::realtime::protocol::ErrorCode::Forbidden {
                // Access to the room ended (or was refused): listeners reload, and
                // learn from the server that the data is gone. No resubscribe.
                sub.pending = true;
                for e in &mut sub.listeners {
                    calls.push((e.f.clone(), RoomEvent::Resync));
                }
                c.handle.presence.update(|p| {
                    p.remove(&room);
                });
            } else {
                // Not subscribed for now (a failure, a cap): the next resume, listen
                // or reconnect asks again.
                sub.pending = false;
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
                    !leaves.contains(&e.user_id) && !joins.iter().any(|j| j.user_id == e.user_id)
                });
                list.extend(joins);
                list.sort_by(|a, b| a.name.cmp(&b.name));
            });
        }
        ServerFrame::Typing {
            room,
            user_id,
            field,
        } => ephemeral(c, room, &mut calls, RoomEvent::Typing { user_id, field }),
        ServerFrame::TakenOver {
            room,
            user_id,
            field,
        } => ephemeral(c, room, &mut calls, RoomEvent::TakenOver { user_id, field }),
        ServerFrame::Error { .. } | ServerFrame::Pong => {}
        ServerFrame::Reconnect { delay_ms, .. } => {
            // The server is going away: come back after the delay it gave (spread per
            // socket), not after the backoff of a failure.
            if let Some(link) = c.link.take() {
                link.shut();
            }
            c.handle.status.set(ConnectionStatus::Reconnecting {
                attempt: 1,
                next_in_secs: (delay_ms / 1000) as u32 + 1,
            });
            set_timeout(connect, Duration::from_millis(delay_ms));
        }
    });
    for (listener, event) in calls {
        listener(event);
    }
}

/// Queues `event` (typing, a take-over: ephemeral, not in the room's log) for every
/// listener of `room`.
fn ephemeral(c: &mut Client, room: Room, calls: &mut Vec<(Listener, RoomEvent)>, event: RoomEvent) {
    if let Some(sub) = c.rooms.get(&room) {
        for e in &sub.listeners {
            calls.push((e.f.clone(), event.clone()));
        }
    }
}
