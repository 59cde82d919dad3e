//! `/ws`: one WebSocket per browser tab. Authenticated by the session cookie at upgrade,
//! then a reader loop (frames in, rate-limited, heartbeat timeout) and a writer task
//! (frames out, from a bounded outbox), with one forwarder task per subscribed room.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use app::model::{now_ms, User};
use app::realtime::protocol::{
    ClientFrame, Position, PresenceEntry, Room, ServerFrame, Status, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use app::ssr::Store;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tower_sessions::Session;

use super::hub::{to_json, Delivery, Hub};
use crate::state::AppState;

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

/// Upgrades to a WebSocket when the request comes from this site (`Origin` equal to
/// `Host`) with a signed-in session; 403 otherwise.
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    if origin_host.is_none() || origin_host != host {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    let user = match crate::auth::session_user(&session).await {
        Ok(id) => match state.db.store.user(id).await {
            Ok(u) => u,
            Err(_) => return (StatusCode::FORBIDDEN, "sign in first").into_response(),
        },
        Err(_) => return (StatusCode::FORBIDDEN, "sign in first").into_response(),
    };
    let hub = state.hub.clone();
    let store = state.db.store.clone();
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, hub, store, user))
}

/// Frames waiting to be written to one socket, bounded. When full, the socket is too
/// slow: its queue is dropped and replaced by a `resync` for each of its rooms, so it
/// never holds a room back.
pub struct Outbox {
    state: Mutex<OutboxState>,
    notify: Notify,
    capacity: usize,
}

struct OutboxState {
    queue: VecDeque<Arc<str>>,
    rooms: BTreeSet<Room>,
    closed: bool,
}

impl Outbox {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Outbox {
            state: Mutex::new(OutboxState {
                queue: VecDeque::new(),
                rooms: BTreeSet::new(),
                closed: false,
            }),
            notify: Notify::new(),
            capacity,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame. Returns false when the socket was too slow and got resyncs instead.
    fn push(&self, frame: Arc<str>) -> bool {
        let ok = {
            let mut s = self.lock();
            if s.queue.len() < self.capacity {
                s.queue.push_back(frame);
                true
            } else {
                s.queue.clear();
                let rooms: Vec<Room> = s.rooms.iter().copied().collect();
                for room in rooms {
                    s.queue.push_back(to_json(&ServerFrame::Resync {
                        room,
                        reason: "too slow: frames were dropped".into(),
                    }));
                }
                false
            }
        };
        self.notify.notify_one();
        ok
    }

    fn send(&self, frame: &ServerFrame) -> bool {
        self.push(to_json(frame))
    }

    /// The next frame to write; `None` once closed and drained.
    async fn pop(&self) -> Option<Arc<str>> {
        loop {
            {
                let mut s = self.lock();
                if let Some(f) = s.queue.pop_front() {
                    return Some(f);
                }
                if s.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

/// One socket's state, owned by its reader loop.
struct Connection {
    id: u64,
    user: User,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    outbox: Arc<Outbox>,
    subscriptions: HashMap<Room, JoinHandle<()>>,
    presence: PresenceEntry,
}

async fn run(socket: WebSocket, hub: Arc<Hub>, store: Arc<dyn Store>, user: User) {
    let (mut sink, mut stream) = socket.split();
    let outbox = Outbox::new(hub.config().socket_queue);
    let writer_box = outbox.clone();
    let writer = tokio::spawn(async move {
        while let Some(frame) = writer_box.pop().await {
            if sink
                .send(Message::Text(frame.as_ref().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
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
        id: NEXT_SOCKET.fetch_add(1, Ordering::Relaxed),
        user,
        hub: hub.clone(),
        store,
        outbox: outbox.clone(),
        subscriptions: HashMap::new(),
        presence,
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
    loop {
        let message = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => {
                tracing::debug!(socket = conn.id, "heartbeat timeout");
                break;
            }
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(m))) => m,
        };
        let text = match message {
            Message::Text(t) => t,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Binary(_) => {
                conn.error("bad_frame", "frames are JSON text");
                continue;
            }
        };
        if limiter.check().is_err() {
            conn.error("rate_limited", "too many frames; slow down");
            continue;
        }
        match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(frame) => conn.handle(frame).await,
            Err(e) => conn.error(
                "bad_frame",
                &format!("not a frame of protocol {PROTOCOL_VERSION}: {e}"),
            ),
        }
    }
    conn.close();
    outbox.close();
    let _ = writer.await;
}

impl Connection {
    fn error(&self, code: &str, message: &str) {
        self.outbox.send(&ServerFrame::Error {
            code: code.into(),
            message: message.into(),
        });
    }

    async fn handle(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Hello { version } if version != PROTOCOL_VERSION => {
                self.error(
                    "version",
                    &format!("this server speaks protocol {PROTOCOL_VERSION}, not {version}"),
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
                editing,
            } => {
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
                if self.subscriptions.contains_key(&room) {
                    self.hub.broadcast(
                        room,
                        &ServerFrame::Typing {
                            room,
                            user_id: self.user.id,
                            field,
                        },
                    );
                } else {
                    self.error(
                        "forbidden",
                        &format!("subscribe to {} before typing in it", room.name()),
                    );
                }
            }
        }
    }

    /// Whether the user may subscribe to the room: a member of its workspace, or their
    /// own notification room.
    async fn authorized(&self, room: Room) -> bool {
        let workspace = match room {
            Room::User(id) => return id == self.user.id,
            Room::Workspace(id) => id,
            Room::Record(kind, id) => match self.store.record_workspace(kind, id).await {
                Ok(ws) => ws,
                Err(_) => return false,
            },
        };
        matches!(self.store.role(workspace, self.user.id).await, Ok(Some(_)))
    }

    /// Subscribes: live receiver first, then the head, then `subscribed`, then the
    /// replay of what came after `since`, then live events after the head, so there is
    /// no gap and no duplicate at the seam.
    async fn subscribe(&mut self, room: Room, since: Option<Position>) {
        if !self.authorized(room).await {
            self.error("forbidden", &format!("no access to {}", room.name()));
            return;
        }
        self.unsubscribe(room);
        let rx = self.hub.room(room).subscribe();
        let head = match self.store.room_head(room).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "reading a room head");
                self.error("internal", "the room could not be opened");
                return;
            }
        };
        self.outbox.lock().rooms.insert(room);
        let presence = self.hub.join(room, self.id, self.presence.clone());
        self.outbox.send(&ServerFrame::Subscribed {
            room,
            position: head,
            presence,
        });
        if let Some(since) = since {
            self.replay(room, since, head).await;
        }
        let task = tokio::spawn(forward(
            rx,
            room,
            head,
            self.outbox.clone(),
            self.store.clone(),
        ));
        self.subscriptions.insert(room, task);
    }

    async fn replay(&self, room: Room, since: Position, head: Position) {
        if since.epoch != head.epoch || since.offset > head.offset {
            self.outbox.send(&ServerFrame::Resync {
                room,
                reason: "the room's log was reset".into(),
            });
            return;
        }
        match self
            .store
            .room_changes(room, head.epoch, since.offset, head.offset)
            .await
        {
            Ok(changes) if changes.len() as i64 == head.offset - since.offset => {
                for c in changes {
                    self.outbox.send(&ServerFrame::Event {
                        room,
                        position: c.position,
                        change: c.change,
                    });
                }
            }
            Ok(_) => {
                self.outbox.send(&ServerFrame::Resync {
                    room,
                    reason: "the log no longer holds what was missed".into(),
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "replaying a room");
                self.outbox.send(&ServerFrame::Resync {
                    room,
                    reason: "replay failed".into(),
                });
            }
        }
    }

    fn unsubscribe(&mut self, room: Room) {
        if let Some(task) = self.subscriptions.remove(&room) {
            task.abort();
            self.outbox.lock().rooms.remove(&room);
            self.hub.leave(room, self.id, self.user.id);
            self.hub.release(room);
        }
    }

    fn close(&mut self) {
        let rooms: Vec<Room> = self.subscriptions.keys().copied().collect();
        for room in rooms {
            self.unsubscribe(room);
        }
    }
}

/// Forwards a room's broadcast to one socket in offset order, exactly once: an event at
/// or before the last one sent is skipped; one after a gap (another writer's publish not
/// here yet) first has the gap filled from the log. A receiver that lagged behind the
/// room's buffer, or a socket too slow for its outbox, is told to resync.
async fn forward(
    mut rx: broadcast::Receiver<Delivery>,
    room: Room,
    head: Position,
    outbox: Arc<Outbox>,
    store: Arc<dyn Store>,
) {
    let mut last = head.offset;
    loop {
        let delivery = match rx.recv().await {
            Ok(d) => d,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                outbox.send(&ServerFrame::Resync {
                    room,
                    reason: "fell behind the room".into(),
                });
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some((epoch, offset)) = delivery.position else {
            if !outbox.push(delivery.frame) {
                return;
            }
            continue;
        };
        if epoch != head.epoch {
            outbox.send(&ServerFrame::Resync {
                room,
                reason: "the room's log was reset".into(),
            });
            return;
        }
        if offset <= last {
            continue;
        }
        if offset > last + 1 {
            match store.room_changes(room, epoch, last, offset - 1).await {
                Ok(missed) if missed.len() as i64 == offset - 1 - last => {
                    for c in missed {
                        if !outbox.send(&ServerFrame::Event {
                            room,
                            position: c.position,
                            change: c.change,
                        }) {
                            return;
                        }
                    }
                }
                _ => {
                    outbox.send(&ServerFrame::Resync {
                        room,
                        reason: "a gap could not be filled".into(),
                    });
                    return;
                }
            }
        }
        if !outbox.push(delivery.frame) {
            return;
        }
        last = offset;
    }
}
