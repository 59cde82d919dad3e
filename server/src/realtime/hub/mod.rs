//! The realtime hub: a registry of rooms, each with its subscriptions and presence, whose
//! frames are serialized once and pushed by one dispatcher on the fan-out runtime into
//! every subscribed socket's outbox; and a registry of sockets per user, so access that
//! ends ends on every socket at once. The store hands it committed changes (it is the store's
//! [`ChangeSink`]); sockets subscribe to rooms through it. Other nodes are reached
//! through the [`Bus`] only. A periodic head check fills, from the change log, any event
//! that was committed but never broadcast.
//!
//! Shape from tokio-rs/mini-redis (`db.rs`: a map of rooms) and socket.io's adapter (a
//! room is a set of sockets written to in a loop); locks are never held across an
//! `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use app::realtime::protocol::{Change, Position, Room, ServerFrame};
use app::ssr::cache::AccessCache;
use app::ssr::store::{ChangeSink, LoggedChange};
use app::ssr::{AccessControl, Store};
use tokio::sync::mpsc;

use super::bus::{Bus, BusMessage};
use super::fanout;
use super::subscription::Subscription;

mod presence;
mod sockets;

use sockets::Sockets;
pub use sockets::{Control, Controls, Registration, SocketLimit};

/// Timing, sizes and caps of the hub; flags of `tandem serve` set the caps, tests
/// shorten the timings.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// How long a user who lost their last socket in a room stays present, so a quick
    /// reconnect does not flicker (5 s).
    pub presence_grace: Duration,
    /// A socket silent this long is dropped (60 s; clients ping every 25-30 s).
    pub heartbeat_timeout: Duration,
    /// Live frames a subscription holds aside while it replays or fills a gap (256); past
    /// it the socket is told to resync.
    pub held_while_catching_up: usize,
    /// Frames a socket's outbox holds before the socket counts as too slow and is told to
    /// resync (256).
    pub socket_queue: usize,
    /// Frames a socket may send per second, sustained (20), and in a burst (40).
    pub frames_per_second: u32,
    /// Rooms one socket may be subscribed to at once (100).
    pub max_subscriptions_per_socket: usize,
    /// Sockets one user may hold open at once (20).
    pub max_sockets_per_user: usize,
    /// Sockets one client address may hold open at once (200).
    pub max_sockets_per_ip: usize,
    /// How often a socket re-checks that its session is still valid (120 s).
    pub session_recheck: Duration,
    /// On shutdown, sockets are told to reconnect after a delay spread evenly over this
    /// (5 s), so a restart does not bring every client back at once.
    pub reconnect_spread: Duration,
    /// How often the hub compares the heads of rooms with subscribers with what it has
    /// delivered, to fill events that were committed but not broadcast (2 s).
    pub head_check: Duration,
    /// Events read from the log in one query when replaying or filling (500).
    pub replay_page: i64,
    /// With other nodes: how often this node sends the others every presence entry it
    /// holds, keeping them alive there (10 s).
    pub presence_heartbeat: Duration,
    /// With other nodes: an entry from another node not refreshed for this long is
    /// dropped, so the users of a node that died leave (30 s).
    pub presence_ttl: Duration,
    /// How long the access cache keeps who a session is, what a slug names and a
    /// member's role (5 s); revocations forget them at once on every node.
    pub access_cache_ttl: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            presence_grace: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(60),
            held_while_catching_up: 256,
            socket_queue: 256,
            frames_per_second: 20,
            max_subscriptions_per_socket: 100,
            max_sockets_per_user: 20,
            max_sockets_per_ip: 200,
            session_recheck: Duration::from_secs(120),
            reconnect_spread: Duration::from_secs(5),
            head_check: Duration::from_secs(2),
            replay_page: 500,
            presence_heartbeat: Duration::from_secs(10),
            presence_ttl: Duration::from_secs(30),
            access_cache_ttl: Duration::from_secs(5),
        }
    }
}

/// A frame as JSON text, serialized once and shared by reference count from the room's
/// dispatcher through each socket's outbox into its WebSocket writes (no copy per socket).
pub type Frame = axum::extract::ws::Utf8Bytes;

/// One frame for a room's subscribers: the JSON text (serialized once for all of them)
/// and, for a change event, its position so each subscriber can keep order.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `(epoch, offset)` of a change event; `None` for presence and typing frames.
    pub position: Option<(i64, i64)>,
    /// The frame as JSON text.
    pub frame: Frame,
    /// The user whose access to the room ends with this event (they left a private chat
    /// room or were removed): their subscriptions deliver it and end.
    pub ends_for: Option<i64>,
}

/// What the newest event of a room this node knows of is, and what it was at the last
/// head check (a room whose log moved while this stayed put missed a broadcast).
#[derive(Default)]
struct Seen {
    newest: Option<Position>,
    at_last_check: Option<Position>,
}

/// One room: its subscriptions on this node and the newest event delivered here.
pub struct RoomChannel {
    subscriptions: Mutex<Vec<Arc<Subscription>>>,
    seen: Mutex<Seen>,
}

/// The registry of rooms and sockets. Cheap to share (`Arc<Hub>`).
pub struct Hub {
    rooms: Mutex<HashMap<Room, Arc<RoomChannel>>>,
    sockets: Mutex<Sockets>,
    bus: Arc<dyn Bus>,
    config: HubConfig,
    store: OnceLock<Arc<dyn Store>>,
    /// To the dispatcher on the fan-out runtime, which delivers each frame to the room's
    /// subscriptions in the order sent.
    dispatch: mpsc::UnboundedSender<(Arc<RoomChannel>, Delivery, std::time::Instant)>,
    /// Forgotten in step with the revocations the hub carries (here and from the bus).
    cache: Arc<AccessCache>,
    /// Who is in each room, on this node and on the others.
    presence: Mutex<presence::PresenceBook>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serializes a frame (cannot fail for these types; an error frame says so if it did).
pub fn to_json(frame: &ServerFrame) -> Frame {
    serde_json::to_string(frame)
        .unwrap_or_else(|e| format!(r#"{{"type":"error","code":"internal","message":"{e}"}}"#))
        .into()
}

impl Hub {
    /// A hub with its bus to other nodes.
    pub fn new(config: HubConfig, bus: Arc<dyn Bus>) -> Arc<Self> {
        let (dispatch, deliveries) = mpsc::unbounded_channel();
        fanout::spawn(dispatch_deliveries(deliveries));
        Arc::new(Hub {
            dispatch,
            rooms: Mutex::new(HashMap::new()),
            sockets: Mutex::new(Sockets::default()),
            bus,
            cache: Arc::new(AccessCache::new(config.access_cache_ttl)),
            config,
            store: OnceLock::new(),
            presence: Mutex::new(presence::PresenceBook::default()),
        })
    }

    /// Gives the hub the store whose change log it fills gaps from, and starts the
    /// periodic head check (which ends when the hub is dropped). Call once, inside the
    /// runtime.
    pub fn start(self: &Arc<Self>, store: Arc<dyn Store>) {
        if self.store.set(store.clone()).is_err() {
            return;
        }
        let hub = Arc::downgrade(self);
        let every = self.config.head_check;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(hub) = Weak::upgrade(&hub) else {
                    return;
                };
                hub.check_heads(&*store).await;
            }
        });
        if self.bus.reaches_others() {
            self.spawn_presence_heartbeat();
        }
    }

    /// The hub's configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The access cache whose entries the hub forgets when access ends.
    pub fn access_cache(&self) -> Arc<AccessCache> {
        self.cache.clone()
    }

    fn channel(&self) -> Arc<RoomChannel> {
        Arc::new(RoomChannel {
            subscriptions: Mutex::new(Vec::new()),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// Adds a subscription to a room, creating the room if needed, in one step under the
    /// registry's lock: a room released by its grace timer meanwhile cannot leave the
    /// subscription on a dead room. It receives every frame dispatched after this.
    pub fn subscribe(&self, room: Room, subscription: Arc<Subscription>) -> Arc<RoomChannel> {
        let mut rooms = lock(&self.rooms);
        let ch = rooms.entry(room).or_insert_with(|| self.channel()).clone();
        lock(&ch.subscriptions).push(subscription);
        ch
    }

    /// Ends socket `socket`'s subscription to a room and releases the room if nothing
    /// else holds it.
    pub fn unsubscribe(&self, room: Room, socket: u64) {
        let ch = lock(&self.rooms).get(&room).cloned();
        if let Some(ch) = ch {
            lock(&ch.subscriptions).retain(|s| {
                let mine = s.socket() == socket;
                if mine {
                    s.end();
                }
                !mine
            });
        }
        self.release(room);
    }

    /// Forgets a room nobody here listens to.
    pub fn release(&self, room: Room) {
        let mut rooms = lock(&self.rooms);
        if let Some(ch) = rooms.get(&room) {
            if lock(&ch.subscriptions).is_empty() {
                rooms.remove(&room);
            }
        }
    }

    /// Rooms currently held (for metrics and tests).
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Subscriptions on this node, over every room.
    pub fn subscription_count(&self) -> usize {
        let rooms: Vec<Arc<RoomChannel>> = lock(&self.rooms).values().cloned().collect();
        rooms.iter().map(|ch| lock(&ch.subscriptions).len()).sum()
    }

    /// Sends a frame to the room's subscribers on this node (no-op without subscribers;
    /// nothing is kept for a room nobody here listens to).
    fn deliver(&self, room: Room, delivery: Delivery) {
        let ch = lock(&self.rooms).get(&room).cloned();
        if let Some(ch) = ch {
            self.send(ch, delivery);
        }
    }

    /// Notes an event's position and hands the frame to the dispatcher.
    fn send(&self, ch: Arc<RoomChannel>, delivery: Delivery) {
        if let Some((epoch, offset)) = delivery.position {
            ch.observe(Position { epoch, offset });
        }
        // The dispatcher lives as long as the hub's sender; a send cannot fail before.
        let _ = self
            .dispatch
            .send((ch, delivery, std::time::Instant::now()));
    }

    /// Handles a message that came from node `from` through the bus.
    pub fn deliver_from_bus(&self, from: u64, message: BusMessage) {
        match message {
            BusMessage::Frame {
                room,
                position,
                frame,
                ends_for,
            } => self.deliver(
                room,
                Delivery {
                    position,
                    frame,
                    ends_for,
                },
            ),
            BusMessage::RecheckUser { user } => self.control_user(user, Control::Recheck),
            BusMessage::EndSession { session } => self.control_session(&session),
            BusMessage::Presence { room, user, entry } => {
                self.remote_presence(from, room, user, entry)
            }
            BusMessage::PresenceAlive { entries } => self.remote_alive(from, entries),
            BusMessage::PresenceQuery => self.publish_alive(),
        }
    }

    /// Broadcasts a frame to a room, on this node and, through the bus, on the others.
    /// The frame is serialized only when someone can receive it: a subscriber here, or
    /// other nodes behind the bus.
    pub fn broadcast(&self, room: Room, frame: &ServerFrame) {
        let (position, ends_for) = match frame {
            ServerFrame::Event {
                position, change, ..
            } => (
                Some((position.epoch, position.offset)),
                change.ends_access_of(room),
            ),
            _ => (None, None),
        };
        let ch = lock(&self.rooms).get(&room).cloned();
        let listened = ch
            .as_ref()
            .is_some_and(|ch| !lock(&ch.subscriptions).is_empty());
        let others = self.bus.reaches_others();
        if !listened && !others {
            if let (Some(ch), Some((epoch, offset))) = (ch, position) {
                ch.observe(Position { epoch, offset });
            }
            return;
        }
        let frame = to_json(frame);
        if others {
            self.bus.publish(BusMessage::Frame {
                room,
                position,
                frame: frame.clone(),
                ends_for,
            });
        }
        if let Some(ch) = ch {
            self.send(
                ch,
                Delivery {
                    position,
                    frame,
                    ends_for,
                },
            );
        }
    }

    /// Sends a frame to the room's subscribers on this node only, serialized only when
    /// there are any (presence diffs: each node works out its own from what it knows).
    fn deliver_here(&self, room: Room, frame: &ServerFrame) {
        let ch = lock(&self.rooms).get(&room).cloned();
        let Some(ch) = ch.filter(|ch| !lock(&ch.subscriptions).is_empty()) else {
            return;
        };
        self.send(
            ch,
            Delivery {
                position: None,
                frame: to_json(frame),
                ends_for: None,
            },
        );
    }
}

/// The dispatcher: delivers each frame to its room's subscriptions, in the order the
/// hub sent them, pushing straight into the sockets' outboxes (their writers run on the
/// same runtime, so waking them costs no system call). Ends with the hub.
async fn dispatch_deliveries(
    mut deliveries: mpsc::UnboundedReceiver<(Arc<RoomChannel>, Delivery, std::time::Instant)>,
) {
    let mut batch = Vec::with_capacity(64);
    // The subscriptions of the room at hand, copied out of its lock (a reference count
    // each, into storage kept between deliveries), so that a publish or a subscribe,
    // which take that lock, never wait behind a delivery to a thousand sockets.
    let mut targets: Vec<Arc<Subscription>> = Vec::new();
    while deliveries.recv_many(&mut batch, 64).await > 0 {
        // A lone delivery, with none waiting behind it, is written at once to every
        // socket with nothing queued (one `writev` each: the least a lone delivery can
        // cost). Under load, deliveries queue, and each socket's writer sends all its
        // frames with one write.
        let lone = batch.len() == 1 && deliveries.is_empty();
        // Metrics once per batch, not per delivery: the oldest frame's wait and the count.
        let oldest = batch.first().map(|(_, _, at)| *at);
        let mut delivered = 0;
        for (ch, delivery, _) in batch.drain(..) {
            // A subscription added meanwhile gets the frames dispatched after it (it reads
            // the room's head once added, so it needs none before).
            targets.extend(lock(&ch.subscriptions).iter().cloned());
            for s in &targets {
                s.deliver(&delivery, lone);
            }
            delivered += targets.len();
            targets.clear();
        }
        if let Some(at) = oldest {
            crate::metrics::dispatched(delivered, at);
            crate::metrics::frames_out(super::outbox::take_direct_frames());
        }
    }
}

impl RoomChannel {
    /// Notes the head a new subscriber starts from, if nothing was known here yet. (A
    /// head read from the database is not proof that its event was delivered here, so
    /// it never moves a known position: that would hide a missed broadcast from the head
    /// check.)
    pub fn note_head(&self, head: Position) {
        let mut seen = lock(&self.seen);
        if seen.newest.is_none() {
            seen.newest = Some(head);
        }
    }

    /// Notes an event position delivered here (keeps the newest).
    pub fn observe(&self, position: Position) {
        let mut seen = lock(&self.seen);
        let newer = seen
            .newest
            .is_none_or(|n| n.epoch != position.epoch || position.offset > n.offset);
        if newer {
            seen.newest = Some(position);
        }
    }
}

impl Hub {
    /// Compares the heads of the rooms with subscribers here with the newest event
    /// delivered here; a room whose log moved while nothing arrived since the previous
    /// check missed a broadcast (a request cancelled mid-commit, a publish lost between
    /// nodes), and its missing events are delivered from the log. Subscribers skip what
    /// they already have, so a late broadcast never doubles an event.
    pub async fn check_heads(&self, store: &dyn Store) {
        let rooms: Vec<(Room, Arc<RoomChannel>)> = lock(&self.rooms)
            .iter()
            .filter(|(_, ch)| !lock(&ch.subscriptions).is_empty())
            .map(|(r, ch)| (*r, ch.clone()))
            .collect();
        if rooms.is_empty() {
            return;
        }
        let names: Vec<Room> = rooms.iter().map(|(r, _)| *r).collect();
        let heads = match store.room_heads(&names).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "reading room heads");
                return;
            }
        };
        let channels: HashMap<Room, Arc<RoomChannel>> = rooms.into_iter().collect();
        for (room, head) in heads {
            let Some(ch) = channels.get(&room) else {
                continue;
            };
            let stale_since = {
                let mut seen = lock(&ch.seen);
                let newest = seen.newest;
                let unchanged = seen.at_last_check == newest;
                seen.at_last_check = newest;
                match newest {
                    Some(n) if n.epoch == head.epoch && head.offset > n.offset && unchanged => {
                        Some(n.offset)
                    }
                    _ => None,
                }
            };
            if let Some(after) = stale_since {
                self.fill(store, room, head, after).await;
            }
        }
    }

    /// Delivers a room's logged events after offset `after` up to `head` on this node,
    /// in pages.
    async fn fill(&self, store: &dyn Store, room: Room, head: Position, mut after: i64) {
        while after < head.offset {
            let page = match store
                .room_changes(
                    room,
                    head.epoch,
                    after,
                    head.offset,
                    self.config.replay_page,
                )
                .await
            {
                Ok(p) if !p.is_empty() => p,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, room = %room.name(), "filling a room from its log");
                    return;
                }
            };
            for c in page {
                after = c.position.offset;
                let ends_for = c.change.ends_access_of(room);
                let frame = ServerFrame::Event {
                    room,
                    position: c.position,
                    change: c.change,
                };
                let position = Some((c.position.epoch, c.position.offset));
                self.deliver(
                    room,
                    Delivery {
                        position,
                        frame: to_json(&frame),
                        ends_for,
                    },
                );
            }
        }
    }
}

impl ChangeSink for Hub {
    fn publish(&self, changes: &[LoggedChange]) {
        for c in changes {
            let frame = ServerFrame::Event {
                room: c.room,
                position: c.position,
                change: c.change.clone(),
            };
            self.broadcast(c.room, &frame);
            // A membership changed: that user's sockets re-check what they may see.
            if let (Change::Members { user, .. }, Room::Workspace(_)) = (&c.change, c.room) {
                self.recheck_user(*user);
            }
            // Someone left a private chat room or was removed: their subscriptions ended
            // with this event; the re-check tells their sockets why.
            if let Some(user) = c.change.ends_access_of(c.room) {
                self.recheck_user(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::bus::InProcessBus;
    use app::realtime::protocol::{PresenceEntry, Status};

    fn entry(user: i64, page: &str) -> PresenceEntry {
        PresenceEntry {
            user_id: user,
            name: format!("User {user}"),
            color: "#000000".into(),
            status: Status::Online,
            page: page.into(),
            editing: None,
            last_seen: 0,
        }
    }

    /// A subscription's view of a room, for reading what the dispatcher delivered.
    struct Listener {
        hub: Arc<Hub>,
        room: Room,
        outbox: Arc<crate::realtime::outbox::Outbox>,
    }

    /// The user id of the typing frame that marks how far delivery has gone.
    const MARK: i64 = -1;

    fn listen(hub: &Arc<Hub>, room: Room) -> Listener {
        listen_as(hub, room, 1)
    }

    /// [`listen`] as `user` (on a socket of the same number).
    fn listen_as(hub: &Arc<Hub>, room: Room, user: i64) -> Listener {
        use crate::realtime::outbox::Outbox;
        use crate::realtime::subscription::{Replay, Subscription};
        let outbox = Outbox::new(256);
        let replay = Replay {
            store: None,
            page: 500,
            patience: Duration::from_secs(1),
            held: 256,
        };
        let subscription = Subscription::new(room, user as u64, user, outbox.clone(), replay);
        hub.subscribe(room, subscription.clone());
        subscription.start(
            Position {
                epoch: 0,
                offset: 0,
            },
            None,
        );
        Listener {
            hub: hub.clone(),
            room,
            outbox,
        }
    }

    impl Listener {
        /// The frames delivered since the last call: sends a marker through the room and
        /// takes everything before it. Blocks this thread (not the runtime's clock) while
        /// the fan-out runtime delivers, so paused time stands still meanwhile.
        fn delivered(&self) -> Vec<ServerFrame> {
            let mark = ServerFrame::Typing {
                room: self.room,
                user_id: MARK,
                field: None,
            };
            self.hub.broadcast(self.room, &mark);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let mut frames = Vec::new();
            loop {
                for f in self.outbox.take_queued() {
                    let f: ServerFrame = serde_json::from_str(&f).expect("valid frame");
                    if matches!(f, ServerFrame::Typing { user_id: MARK, .. }) {
                        return frames;
                    }
                    frames.push(f);
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the marker never came"
                );
                std::thread::yield_now();
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_entry_per_user_however_many_tabs_and_a_grace_period_on_leave() {
        let hub = Hub::new(HubConfig::default(), Arc::new(InProcessBus));
        let room = Room::Workspace(1);
        let l = listen(&hub, room);

        hub.join(room, 1, entry(7, "/a"));
        assert!(
            matches!(l.delivered().as_slice(), [ServerFrame::PresenceDiff { joins, .. }] if joins.len() == 1)
        );
        hub.join(room, 2, entry(7, "/a"));
        assert_eq!(l.delivered(), [], "a second tab is not a second join");
        assert_eq!(hub.presence(room).len(), 1);

        hub.leave(room, 1, 7);
        hub.leave(room, 2, 7);
        tokio::time::sleep(Duration::from_secs(3)).await;
        hub.join(room, 3, entry(7, "/a"));
        assert_eq!(
            l.delivered(),
            [],
            "back within the grace period: no leave, no join"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(l.delivered(), [], "the stale leave did nothing");

        hub.leave(room, 3, 7);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(l.delivered(), [], "still within the grace period");
        tokio::time::sleep(Duration::from_secs(2)).await;
        match l.delivered().as_slice() {
            [ServerFrame::PresenceDiff { leaves, .. }] => assert_eq!(leaves, &[7]),
            other => panic!("expected a leave, got {other:?}"),
        }
        assert!(hub.presence(room).is_empty());
    }

    #[tokio::test]
    async fn an_event_ending_a_users_access_is_followed_by_a_resync_and_nothing_more() {
        use app::model::chat::{ChatKind, ChatRoom, RoomHow};
        use app::realtime::protocol::Change;
        let hub = Hub::new(HubConfig::default(), Arc::new(InProcessBus));
        let room = Room::Chat(5);
        let removed = listen_as(&hub, room, 1);
        let stays = listen_as(&hub, room, 2);
        let event = |offset, how| ServerFrame::Event {
            room,
            position: Position { epoch: 0, offset },
            change: Change::ChatRoom {
                room: Box::new(ChatRoom {
                    id: 5,
                    workspace_id: 1,
                    kind: ChatKind::Private,
                    name: "Deal desk".into(),
                    record: None,
                    owner_id: Some(2),
                    max_participants: None,
                    archived_at: None,
                    created_at: 0,
                    last_seq: 0,
                    last_message_at: None,
                    read_seq: 0,
                    unread: 0,
                }),
                how,
                user: Some(1),
                actor: Some(2),
                at: 0,
            },
        };
        hub.broadcast(room, &event(1, RoomHow::Removed));
        hub.broadcast(room, &event(2, RoomHow::Renamed));
        // The dispatcher hands each frame to every subscription before the next: once the
        // one who stays has both, the removed one's outbox holds all it will ever get.
        assert_eq!(stays.delivered().len(), 2);
        let frames: Vec<ServerFrame> = removed
            .outbox
            .take_queued()
            .iter()
            .map(|f| serde_json::from_str(f).expect("valid frame"))
            .collect();
        assert!(
            matches!(
                frames.as_slice(),
                [
                    ServerFrame::Event { position: Position { offset: 1, .. }, .. },
                    ServerFrame::Resync { room: r, .. },
                ] if *r == room
            ),
            "the removal, then its resync, and nothing after: {frames:?}"
        );
    }

    #[tokio::test]
    async fn a_presence_change_is_announced_once() {
        let hub = Hub::new(HubConfig::default(), Arc::new(InProcessBus));
        let room = Room::Workspace(1);
        hub.join(room, 1, entry(7, "/a"));
        let l = listen(&hub, room);
        hub.update_presence(room, entry(7, "/b"));
        hub.update_presence(room, entry(7, "/b"));
        assert!(
            matches!(l.delivered().as_slice(), [ServerFrame::PresenceDiff { joins, .. }] if joins[0].page == "/b")
        );
        assert_eq!(l.delivered(), []);
    }
}
