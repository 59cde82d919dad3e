//! `/ws`: one WebSocket per browser tab. Authenticated by the session cookie at upgrade
//! (the same-origin check is the request middleware's), registered with the hub within
//! the per-user and per-address caps, then a reader loop (frames in, rate-limited,
//! heartbeat timeout, the hub's access checks, a periodic session check) and a writer
//! task on the fan-out runtime (frames out, from a bounded outbox, which the rooms'
//! dispatcher fills directly, or writes past when nothing is queued: the direct path).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use app::error::AppError;
use app::model::{now_ms, Role, User};
use app::realtime::protocol::{
    ClientFrame, ErrorCode, Position, PresenceEntry, Room, ServerFrame, Status,
    CLOSE_SESSION_ENDED, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use app::ssr::{ClientIp, DbError, Store, SESSION_USER_KEY};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tower_sessions::session::Id;
use tower_sessions::{Session, SessionStore};

use super::hub::{Control, Hub, Registration};
use super::outbox::{Outbox, Work};
use super::subscription::{Replay, Subscription};
use crate::db::Sessions;
use crate::state::AppState;
use crate::Peer;

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

/// The read buffer a socket starts with (bytes); most client frames fit in it.
const READ_BUFFER: usize = 256;

/// Upgrades to a WebSocket for a signed-in session; 403 otherwise, 429 past the user's
/// connects a minute. (A cross-origin upgrade never gets here: the request middleware
/// refuses it.)
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    ip: Option<Extension<ClientIp>>,
    peer: Option<Extension<axum::extract::ConnectInfo<Peer>>>,
    version: axum::http::Version,
    ws: WebSocketUpgrade,
) -> Response {
    // The direct path writes WebSocket frames to the connection's socket itself: only
    // for an HTTP/1.1 upgrade, after which the socket carries nothing else (over HTTP/2
    // the WebSocket is one stream among others on it).
    let peer = peer
        .map(|Extension(axum::extract::ConnectInfo(peer))| peer)
        .filter(|_| version == axum::http::Version::HTTP_11);
    let socket = match Socket::open(&state, &session, ip).await {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    // Sized for an idle socket: client frames are small, and the read buffer grows for a
    // bigger one (up to the frame limit); the write buffer grows as frames are queued.
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(4 * 1024)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |ws| {
            // The connection gets a task of its own, holding only its loop's state; axum's
            // upgrade task (the upgrade, its configuration and this closure) ends here
            // instead of living as long as the socket (2.7 KB a socket, heaptrack).
            // The connection's own socket, for the direct path: the upgraded WebSocket
            // holds it open while this runs.
            socket.start_websocket(ws, peer.and_then(|p| p.socket()));
            std::future::ready(())
        })
}

/// What a connection's task starts from, whatever its transport (a WebSocket, or
/// server-sent events with frames POSTed back: [`super::sse`]).
pub(super) struct Socket {
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    sessions: Sessions,
    session: Option<Id>,
    ip: Option<std::net::IpAddr>,
    user: User,
}

/// One socket's state, owned by its reader loop. Dropping it (however the task ends)
/// leaves every room, so presence never outlives the socket.
struct Connection {
    id: u64,
    user: User,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    outbox: Arc<Outbox>,
    subscriptions: HashMap<Room, Arc<Subscription>>,
    presence: PresenceEntry,
    /// The socket's place in the hub's registry, held until its writer has finished (a
    /// drain waits for the registry to empty before the process exits).
    registration: Option<Registration>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
        self.outbox.close();
    }
}

/// Closes its outbox when dropped (closing twice is harmless): held by a connection's
/// reader task from the start, so its writer never waits on an outbox nobody will close.
struct ClosesOutbox(Arc<Outbox>);

impl Drop for ClosesOutbox {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Why the reader loop stopped.
enum End {
    /// The peer closed, failed or went silent.
    Gone,
    /// The session ended: close with [`CLOSE_SESSION_ENDED`].
    SessionEnded,
    /// The server is shutting down.
    Drain,
}

/// WebSocket close code for a server going away to restart (RFC 6455 section 7.4.1
/// registry: 1012 Service Restart).
const CLOSE_SERVICE_RESTART: u16 = 1012;

impl Socket {
    /// The connection a signed-in session may open. Errors (as the response to give):
    /// 401 when signed out, 429 past the user's connects a minute, 500 when the database
    /// fails.
    pub(super) async fn open(
        state: &AppState,
        session: &Session,
        ip: Option<Extension<ClientIp>>,
    ) -> Result<Socket, Response> {
        let user = match app::ssr::signed_in(&*state.db.store, &state.ctx.cache, session).await {
            Ok(u) => u,
            Err(AppError::Unauthorized) => {
                return Err((StatusCode::UNAUTHORIZED, "sign in first").into_response())
            }
            Err(e) => return Err(crate::error::HttpError(e).into_response()),
        };
        if let Err(e) = state.ctx.limits.check_connect(user.id) {
            return Err(crate::error::HttpError(e).into_response());
        }
        Ok(Socket {
            hub: state.hub.clone(),
            store: state.db.store.clone(),
            sessions: state.db.sessions.clone(),
            session: session.id(),
            ip: ip.map(|Extension(ClientIp(ip))| ip),
            user,
        })
    }

    /// The session the connection was opened with.
    pub(super) fn session(&self) -> Option<Id> {
        self.session
    }

    /// Starts the connection over a WebSocket: its writer on the fan-out runtime, its
    /// reader loop ([`Socket::run`]) as a task of its own on this one. With `direct`, a
    /// duplicate of the WebSocket's own connection, the outbox writes frames straight to
    /// it while nothing is queued ([`Outbox::write_or_push`]).
    fn start_websocket(self, socket: WebSocket, direct: Option<std::net::TcpStream>) {
        let (mut sink, stream) = socket.split();
        let outbox = Outbox::new(self.hub.config().socket_queue);
        if let Some(direct) = direct {
            outbox.write_directly_to(direct);
        }
        let writer_box = outbox.clone();
        // Writes what is queued as one batch: each frame into the WebSocket's buffer,
        // then one flush (one system call for a burst instead of one per frame); first,
        // the rest of a frame the direct path wrote in part.
        let writer = super::fanout::spawn(async move {
            let mut batch = Vec::new();
            let written = async {
                loop {
                    match writer_box.next_work(&mut batch).await {
                        Work::Tail { frame, written } => {
                            // Boxed, as the reader's rare calls: the task keeps only the
                            // idle loop's state, not this (a registration and its wait).
                            Box::pin(writer_box.finish_tail(frame, written))
                                .await
                                .ok()?;
                        }
                        Work::Frames => {
                            crate::metrics::frames_out(batch.len() as u64);
                            for frame in std::mem::take(&mut batch) {
                                sink.feed(Message::Text(frame)).await.ok()?;
                            }
                            sink.flush().await.ok()?;
                            writer_box.written();
                        }
                        Work::Closed => return Some(()),
                    }
                }
            };
            if written.await.is_some() {
                let close = writer_box.lock().close_with;
                let frame = close.map(|(code, reason)| CloseFrame {
                    code,
                    reason: reason.into(),
                });
                let _ = sink.send(Message::Close(frame)).await;
                let _ = sink.close().await;
            }
            writer_box.writer_ended();
        });
        // Should the reader's task never run (the runtime shutting down first), dropping
        // it closes the outbox, so the writer ends and the WebSocket closes too.
        let unstarted = ClosesOutbox(outbox.clone());
        tokio::spawn(Box::new(self).run(stream, outbox, async move {
            let _ = writer.await;
            drop(unstarted);
        }));
    }

    /// Runs the connection: frames in from `stream` (as WebSocket messages, whatever
    /// carried them), frames out through `outbox`, whose writer completes `written` once
    /// it has written the last frame (the hub's registration is held until then).
    ///
    /// `self` comes boxed: an async fn keeps its arguments for its whole life, and the
    /// fields taken out of it below would otherwise be stored twice in every idle
    /// socket's task.
    pub(super) async fn run(
        self: Box<Self>,
        mut stream: impl futures::Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
        outbox: Arc<Outbox>,
        written: impl std::future::Future<Output = ()> + Send,
    ) {
        // Taken apart, so the task keeps one copy of each (it lives as long as the socket).
        let Socket {
            hub,
            store,
            sessions,
            session,
            ip,
            user,
        } = *self;
        let id = NEXT_SOCKET.fetch_add(1, Ordering::Relaxed);
        let session_id = session.map(|i| i.to_string());
        let (registration, control) = match hub.register(id, user.id, session_id, ip) {
            Ok(r) => r,
            Err(limit) => {
                outbox.send(&ServerFrame::Error {
                    code: ErrorCode::TooManySockets,
                    message: limit.to_string(),
                    room: None,
                });
                outbox.close_with(1008, "too many connections");
                written.await;
                return;
            }
        };
        let presence = PresenceEntry {
            user_id: user.id,
            name: user.display_name.clone(),
            color: user.color.clone(),
            status: Status::Online,
            page: String::new(),
            editing: None,
            last_seen: now_ms(),
        };
        let mut conn = Connection {
            id,
            user,
            hub: hub.clone(),
            store,
            outbox: outbox.clone(),
            subscriptions: HashMap::new(),
            presence,
            registration: Some(registration),
        };
        conn.outbox.send(&ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            user_id: conn.user.id,
        });
        let per_second =
            NonZeroU32::new(hub.config().frames_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = per_second.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        let limiter: DefaultDirectRateLimiter =
            RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst));
        let timeout = hub.config().heartbeat_timeout;
        let mut session_check = tokio::time::interval(hub.config().session_recheck);
        session_check.tick().await;
        let end = loop {
            let message = tokio::select! {
                m = tokio::time::timeout(timeout, stream.next()) => m,
                c = control.next() => match c {
                    Control::Recheck => {
                        // Boxed, here and below: the socket's task keeps only the idle
                        // loop's state between frames, not the largest call's.
                        Box::pin(conn.recheck()).await;
                        continue;
                    }
                    Control::SessionEnded => break End::SessionEnded,
                    Control::Drain => break End::Drain,
                },
                _ = session_check.tick() => {
                    if !Box::pin(session_alive(&sessions, session, conn.user.id)).await {
                        break End::SessionEnded;
                    }
                    Box::pin(conn.recheck()).await;
                    continue;
                }
            };
            let message = match message {
                Err(_) => {
                    tracing::debug!(socket = conn.id, "heartbeat timeout");
                    break End::Gone;
                }
                Ok(None) | Ok(Some(Err(_))) => break End::Gone,
                Ok(Some(Ok(m))) => m,
            };
            crate::metrics::frame_in();
            let text = match message {
                Message::Text(t) => t,
                Message::Close(_) => break End::Gone,
                Message::Ping(_) => {
                    // The WebSocket library answers with a pong of its own on its next
                    // read or write: no frame may be left half-written by then.
                    let stopped = Box::pin(tokio::time::timeout(timeout, outbox.stop_direct()));
                    if stopped.await.is_err() {
                        break End::Gone;
                    }
                    continue;
                }
                Message::Pong(_) => continue,
                Message::Binary(_) => {
                    conn.error(ErrorCode::BadFrame, "frames are JSON text", None);
                    continue;
                }
            };
            if limiter.check().is_err() {
                conn.error(ErrorCode::RateLimited, "too many frames; slow down", None);
                continue;
            }
            match ClientFrame::decode(text.as_str()) {
                Ok(frame) => Box::pin(conn.handle(frame)).await,
                Err(e) => conn.error(
                    ErrorCode::BadFrame,
                    &format!("not a frame of protocol {PROTOCOL_VERSION}: {e}"),
                    None,
                ),
            }
        };
        conn.close();
        match end {
            End::SessionEnded => outbox.close_with(CLOSE_SESSION_ENDED, "the session has ended"),
            End::Drain => {
                // A delay spread evenly over the hub's window, so clients come back over
                // it rather than all at once.
                let spread = hub.config().reconnect_spread.as_millis() as u64;
                let delay_ms = if spread == 0 {
                    0
                } else {
                    rand::random::<u64>() % spread
                };
                outbox.send(&ServerFrame::Reconnect {
                    delay_ms,
                    reason: "the server is restarting".into(),
                });
                outbox.close_with(CLOSE_SERVICE_RESTART, "the server is restarting");
            }
            End::Gone => outbox.close(),
        }
        let registration = conn.registration.take();
        drop(conn);
        written.await;
        drop(registration);
    }
}

/// Whether the socket's session still exists (not signed out, not expired) and still
/// belongs to its user.
async fn session_alive(sessions: &Sessions, session: Option<Id>, user: i64) -> bool {
    let Some(id) = session else {
        return false;
    };
    match sessions.load(&id).await {
        Ok(Some(record)) => {
            record.data.get(SESSION_USER_KEY).and_then(|v| v.as_i64()) == Some(user)
        }
        Ok(None) => false,
        // A failing session store is not proof of a signed-out user; check again later.
        Err(e) => {
            tracing::warn!(error = %e, "checking a socket's session");
            true
        }
    }
}

impl Connection {
    fn error(&self, code: ErrorCode, message: &str, room: Option<Room>) {
        self.outbox.send(&ServerFrame::Error {
            code,
            message: message.into(),
            room,
        });
    }

    async fn handle(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Hello { version } if version != PROTOCOL_VERSION => {
                self.error(
                    ErrorCode::Version,
                    &format!("this server speaks protocol {PROTOCOL_VERSION}, not {version}"),
                    None,
                );
            }
            ClientFrame::Hello { .. } => {}
            ClientFrame::Ping => {
                self.outbox.send(&ServerFrame::Pong);
            }
            ClientFrame::Subscribe { room, since } => self.subscribe(room, since).await,
            ClientFrame::Unsubscribe { room } => self.unsubscribe(room),
            ClientFrame::Presence {
                status,
                page,
                mut editing,
            } => {
                if let Some(record) = editing.as_ref().map(|e| e.record) {
                    if let Err((why, room)) = self.may_change(record, "editing").await {
                        // The status and page still count; the claim to edit does not.
                        self.error(ErrorCode::Forbidden, &why, room);
                        editing = None;
                    }
                }
                self.presence = PresenceEntry {
                    status,
                    page,
                    editing,
                    last_seen: now_ms(),
                    ..self.presence.clone()
                };
                for room in self.subscriptions.keys() {
                    self.hub.update_presence(*room, self.presence.clone());
                }
            }
            ClientFrame::Typing { room, field } => {
                let frame = ServerFrame::Typing {
                    room,
                    user_id: self.user.id,
                    field,
                };
                self.relay(room, &frame, "typing").await;
            }
            ClientFrame::TakeOver { room, field } => {
                let frame = ServerFrame::TakenOver {
                    room,
                    user_id: self.user.id,
                    field,
                };
                self.relay(room, &frame, "taking over a field").await;
            }
        }
    }

    /// Sends an ephemeral frame (typing, take-over) to everyone in `room`; refused with a
    /// `forbidden` error frame when [`Connection::may_change`] refuses it (`doing` names
    /// the frame for the message).
    async fn relay(&self, room: Room, frame: &ServerFrame, doing: &str) {
        match self.may_change(room, doing).await {
            Ok(()) => self.hub.broadcast(room, frame),
            Err((why, room)) => self.error(ErrorCode::Forbidden, &why, room),
        }
    }

    /// Whether this socket may say it is changing something in `room` (typing, taking
    /// over a field, editing in its presence): it must be subscribed to the room, and for
    /// a record or a chat room hold at least [`Role::Member`] (not a viewer), as the
    /// server functions that make the change require. Errors: the sentence for the
    /// `forbidden` error frame and the room it names: the room when the socket is not in
    /// it (the client then drops it), none when only writing is refused (a viewer keeps
    /// following the room). A database failure refuses (it is logged).
    async fn may_change(&self, room: Room, doing: &str) -> Result<(), (String, Option<Room>)> {
        if !self.subscriptions.contains_key(&room) {
            let why = format!("subscribe to {} before {doing} in it", room.name());
            return Err((why, Some(room)));
        }
        if matches!(room, Room::Workspace(_) | Room::Admins(_) | Room::User(_)) {
            return Ok(());
        }
        match self.holds(room, Role::Member).await {
            Ok(true) => Ok(()),
            Ok(false) => Err((
                format!(
                    "viewers can look but not change anything, so not {doing} in {}",
                    room.name()
                ),
                None,
            )),
            Err(e) => {
                tracing::error!(error = %e, "checking a socket's right to write");
                Err((
                    format!("could not check your access to {}", room.name()),
                    None,
                ))
            }
        }
    }

    /// Whether the user may be in the room now: a member of its workspace (an admin or
    /// the owner for its admins' room; the one authorization path, by id), or the room is
    /// their own. Errors: `Internal` when the database fails (logged).
    async fn authorized(&self, room: Room) -> Result<bool, AppError> {
        self.holds(room, Role::Viewer).await
    }

    /// Whether the user may be in the room and holds at least `least` in its workspace
    /// (the room's own need, admin for the admins' room, counts when higher). A user's
    /// own room needs no role. Errors: `Internal` when the database fails (logged).
    async fn holds(&self, room: Room, least: Role) -> Result<bool, AppError> {
        let (workspace, needed) = match room {
            Room::User(id) => return Ok(id == self.user.id),
            Room::Workspace(id) => (id, Role::Viewer),
            Room::Admins(id) => (id, Role::Admin),
            // A channel or discussion: any member; a private room: its participants.
            Room::Chat(id) => match self.store.chat_room_workspace(id, self.user.id).await? {
                Some(ws) => (ws, Role::Viewer),
                None => return Ok(false),
            },
            Room::Record(kind, id) => match self.store.record_workspace(kind, id).await {
                Ok(ws) => (ws, Role::Viewer),
                Err(DbError::NotFound) => return Ok(false),
                Err(e) => return Err(e.into()),
            },
        };
        let cache = self.hub.access_cache();
        let needed = needed.max(least);
        app::ssr::role_at_least(&*self.store, &cache, self.user.id, workspace, needed).await
    }

    /// Re-authorizes every subscribed room and ends the subscriptions the user may no
    /// longer have, each with a `forbidden` error frame naming the room.
    async fn recheck(&mut self) {
        let rooms: Vec<Room> = self.subscriptions.keys().copied().collect();
        for room in rooms {
            // A database failure keeps the room until the next check (it is logged).
            if let Ok(false) = self.authorized(room).await {
                self.unsubscribe(room);
                self.error(
                    ErrorCode::Forbidden,
                    &format!("you no longer have access to {}", room.name()),
                    Some(room),
                );
            }
        }
    }

    /// Subscribes: live receiver first, then the head, then `subscribed`, then the
    /// replay of what came after `since`, then live events after the head, so there is
    /// no gap and no duplicate at the seam. A refused subscribe also ends an existing
    /// subscription to the room. Reads only: subscribing writes nothing to the database.
    async fn subscribe(&mut self, room: Room, since: Option<Position>) {
        if let Some(s) = since.filter(|s| s.offset < 0 || s.epoch < 0) {
            self.error(
                ErrorCode::BadFrame,
                &format!("since must have a non-negative epoch and offset, not {s:?}"),
                Some(room),
            );
            return;
        }
        match self.authorized(room).await {
            Ok(true) => {}
            Ok(false) => {
                self.unsubscribe(room);
                self.error(
                    ErrorCode::Forbidden,
                    &format!("no access to {}", room.name()),
                    Some(room),
                );
                return;
            }
            Err(_) => {
                self.error(
                    ErrorCode::Internal,
                    "the room could not be opened",
                    Some(room),
                );
                return;
            }
        }
        let cap = self.hub.config().max_subscriptions_per_socket;
        if !self.subscriptions.contains_key(&room) && self.subscriptions.len() >= cap {
            self.error(
                ErrorCode::Limit,
                &format!("a connection may be in at most {cap} rooms; leave one first"),
                Some(room),
            );
            return;
        }
        self.unsubscribe(room);
        let config = self.hub.config();
        let replay = Replay {
            store: Some(self.store.clone()),
            page: config.replay_page,
            patience: config.heartbeat_timeout,
            held: config.held_while_catching_up,
        };
        // Subscribed before the head is read, so nothing committed after it is missed;
        // frames arriving meanwhile are held until the subscription starts.
        let subscription =
            Subscription::new(room, self.id, self.user.id, self.outbox.clone(), replay);
        let channel = self.hub.subscribe(room, subscription.clone());
        let head = match self.store.room_head(room).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "reading a room head");
                self.hub.unsubscribe(room, self.id);
                self.error(
                    ErrorCode::Internal,
                    "the room could not be opened",
                    Some(room),
                );
                return;
            }
        };
        channel.note_head(head);
        self.outbox.join(room);
        let presence = self.hub.join(room, self.id, self.presence.clone());
        self.outbox.send(&ServerFrame::Subscribed {
            room,
            position: head,
            presence,
        });
        let replay_from = match since {
            Some(s) if s.epoch != head.epoch || s.offset > head.offset => {
                self.outbox.send(&ServerFrame::Resync {
                    room,
                    reason: "the room's log was reset".into(),
                });
                None
            }
            Some(s) => Some(s.offset),
            None => None,
        };
        // The replay (in pages, as fast as the socket takes them) runs on the fan-out
        // runtime: the reader loop stays free for pings and frames.
        subscription.start(head, replay_from);
        self.subscriptions.insert(room, subscription);
    }

    fn unsubscribe(&mut self, room: Room) {
        if self.subscriptions.remove(&room).is_some() {
            self.outbox.leave(room);
            self.hub.leave(room, self.id, self.user.id);
            self.hub.unsubscribe(room, self.id);
        }
    }

    fn close(&mut self) {
        let rooms: Vec<Room> = self.subscriptions.keys().copied().collect();
        for room in rooms {
            self.unsubscribe(room);
        }
    }
}
