//! Presence: who is in each room, one entry per user however many tabs and nodes they are
//! on. This node's entries come from its sockets (with a grace period before a leave, so
//! a reconnect does not flicker); the other nodes' come through the bus, kept alive by
//! their heartbeats and dropped after the presence TTL (so a dead node's users leave).
//! Each node announces to its own subscribers the changes of the merged view, so a user
//! on two nodes joins once and leaves once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Instant;

use app::model::now_ms;
use app::realtime::protocol::{PresenceEntry, Room, ServerFrame};

use super::{lock, Hub};
use crate::realtime::bus::BusMessage;

/// A user's presence in a room across their sockets on this node.
struct Slot {
    entry: PresenceEntry,
    sockets: HashSet<u64>,
    /// Bumped whenever the user comes back, so a pending leave knows it is stale.
    generation: u64,
    /// When the entry last changed, as the book's count (see [`Remote::changed`]).
    changed: u64,
}

/// A user's entry held by another node.
struct Remote {
    entry: PresenceEntry,
    /// When that node last sent it (a change or a heartbeat).
    refreshed: Instant,
    /// When it last changed, as a count: the newest of several nodes' entries is shown.
    changed: u64,
}

/// Every room's presence: this node's slots and the other nodes' entries.
#[derive(Default)]
pub(super) struct PresenceBook {
    local: HashMap<Room, HashMap<i64, Slot>>,
    /// room → user → node → entry.
    remote: HashMap<Room, HashMap<i64, HashMap<u64, Remote>>>,
    changes: u64,
}

impl PresenceBook {
    /// The entry shown for a user in a room: the most recently changed of this node's
    /// and the other nodes' (so a change made in a tab on any node shows everywhere).
    fn merged(&self, room: Room, user: i64) -> Option<PresenceEntry> {
        let local = self
            .local
            .get(&room)
            .and_then(|m| m.get(&user))
            .map(|s| (s.changed, &s.entry));
        let remote = self
            .remote
            .get(&room)
            .and_then(|m| m.get(&user))
            .and_then(|by_node| by_node.values().max_by_key(|r| r.changed))
            .map(|r| (r.changed, &r.entry));
        match (local, remote) {
            (Some(l), Some(r)) => Some(if r.0 > l.0 { r.1 } else { l.1 }.clone()),
            (Some((_, e)), None) | (None, Some((_, e))) => Some(e.clone()),
            (None, None) => None,
        }
    }

    /// A new change count.
    fn tick(&mut self) -> u64 {
        self.changes += 1;
        self.changes
    }

    /// Everyone present in a room, one entry per user.
    fn everyone(&self, room: Room) -> Vec<PresenceEntry> {
        let mut users: Vec<i64> = self
            .local
            .get(&room)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        if let Some(remote) = self.remote.get(&room) {
            users.extend(remote.keys().copied());
        }
        users.sort_unstable();
        users.dedup();
        users
            .into_iter()
            .filter_map(|u| self.merged(room, u))
            .collect()
    }

    /// Sets (or with `None` removes) node `node`'s entry for a user in a room.
    fn set_remote(&mut self, node: u64, room: Room, user: i64, entry: Option<PresenceEntry>) {
        match entry {
            Some(entry) => {
                let changes = self.tick();
                let by_node = self
                    .remote
                    .entry(room)
                    .or_default()
                    .entry(user)
                    .or_default();
                match by_node.get_mut(&node) {
                    Some(r) => {
                        r.refreshed = Instant::now();
                        if !same(&r.entry, &entry) {
                            r.changed = changes;
                        }
                        r.entry = entry;
                    }
                    None => {
                        by_node.insert(
                            node,
                            Remote {
                                entry,
                                refreshed: Instant::now(),
                                changed: changes,
                            },
                        );
                    }
                }
            }
            None => {
                if let Some(users) = self.remote.get_mut(&room) {
                    if let Some(by_node) = users.get_mut(&user) {
                        by_node.remove(&node);
                        if by_node.is_empty() {
                            users.remove(&user);
                        }
                    }
                    if users.is_empty() {
                        self.remote.remove(&room);
                    }
                }
            }
        }
    }

    /// `(room, user)` of every entry node `node` holds here.
    fn held_by(&self, node: u64) -> Vec<(Room, i64)> {
        self.remote
            .iter()
            .flat_map(|(room, users)| {
                users
                    .iter()
                    .filter(|(_, by_node)| by_node.contains_key(&node))
                    .map(|(user, _)| (*room, *user))
            })
            .collect()
    }

    /// `(node, room, user)` of other nodes' entries not refreshed since `before`.
    fn stale(&self, before: Instant) -> Vec<(u64, Room, i64)> {
        let mut out = Vec::new();
        for (room, users) in &self.remote {
            for (user, by_node) in users {
                for (node, r) in by_node {
                    if r.refreshed < before {
                        out.push((*node, *room, *user));
                    }
                }
            }
        }
        out
    }

    /// This node's entries, for a heartbeat.
    fn own(&self) -> Vec<(Room, PresenceEntry)> {
        self.local
            .iter()
            .flat_map(|(room, users)| users.values().map(|s| (*room, s.entry.clone())))
            .collect()
    }
}

/// Whether two entries show the same (the time last seen aside).
fn same(a: &PresenceEntry, b: &PresenceEntry) -> bool {
    a.status == b.status
        && a.page == b.page
        && a.editing == b.editing
        && a.name == b.name
        && a.color == b.color
}

impl Hub {
    /// Tells this node's subscribers of a room how a user's merged entry changed, if it
    /// did: a join (or change) or a leave.
    fn announce_change(
        &self,
        room: Room,
        user: i64,
        before: &Option<PresenceEntry>,
        after: &Option<PresenceEntry>,
    ) {
        let (joins, leaves) = match (before, after) {
            (Some(b), Some(a)) if same(b, a) => return,
            (_, Some(a)) => (vec![a.clone()], Vec::new()),
            (Some(_), None) => (Vec::new(), vec![user]),
            (None, None) => return,
        };
        self.deliver_here(
            room,
            &ServerFrame::PresenceDiff {
                room,
                joins,
                leaves,
            },
        );
    }

    /// Tells the other nodes this node's entry for a user in a room.
    fn publish_presence(&self, room: Room, user: i64, entry: Option<PresenceEntry>) {
        if self.bus.reaches_others() {
            self.bus.publish(BusMessage::Presence { room, user, entry });
        }
    }

    /// Adds socket `socket` of the user in `entry` to the room's presence. Returns
    /// everyone present. Announces a join unless the user was already present (another
    /// tab, another node, or back within the grace period).
    pub fn join(&self, room: Room, socket: u64, entry: PresenceEntry) -> Vec<PresenceEntry> {
        let user = entry.user_id;
        let mut book = lock(&self.presence);
        let before = book.merged(room, user);
        let now = book.tick();
        let slot = book
            .local
            .entry(room)
            .or_default()
            .entry(user)
            .or_insert_with(|| Slot {
                entry: entry.clone(),
                sockets: HashSet::new(),
                generation: 0,
                changed: now,
            });
        let was_present = !slot.sockets.is_empty() || slot.generation > 0;
        slot.generation += 1;
        slot.sockets.insert(socket);
        let changed = !was_present || !same(&slot.entry, &entry);
        if changed {
            slot.changed = now;
        }
        slot.entry = entry.clone();
        if changed {
            self.publish_presence(room, user, Some(entry));
        }
        let after = book.merged(room, user);
        self.announce_change(room, user, &before, &after);
        book.everyone(room)
    }

    /// Updates a present user's entry (status, page, field being edited) and announces it.
    pub fn update_presence(&self, room: Room, entry: PresenceEntry) {
        let user = entry.user_id;
        let mut book = lock(&self.presence);
        let before = book.merged(room, user);
        let now = book.tick();
        let Some(slot) = book.local.get_mut(&room).and_then(|m| m.get_mut(&user)) else {
            return;
        };
        if slot.entry == entry {
            return;
        }
        if !same(&slot.entry, &entry) {
            slot.changed = now;
        }
        slot.entry = entry.clone();
        self.publish_presence(room, user, Some(entry));
        let after = book.merged(room, user);
        self.announce_change(room, user, &before, &after);
    }

    /// Removes a socket from the room's presence. When it was the user's last socket
    /// here, the user's entry goes after the grace period unless they come back first;
    /// the user leaves unless another node still has them.
    pub fn leave(self: &Arc<Self>, room: Room, socket: u64, user: i64) {
        let generation = {
            let mut book = lock(&self.presence);
            let Some(slot) = book.local.get_mut(&room).and_then(|m| m.get_mut(&user)) else {
                return;
            };
            slot.sockets.remove(&socket);
            if !slot.sockets.is_empty() {
                return;
            }
            slot.entry.last_seen = now_ms();
            slot.generation
        };
        let hub = self.clone();
        let grace = self.config.presence_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let mut book = lock(&hub.presence);
            let Some(users) = book.local.get_mut(&room) else {
                return;
            };
            match users.get(&user) {
                Some(slot) if slot.sockets.is_empty() && slot.generation == generation => {}
                _ => return,
            }
            let before = users.remove(&user).map(|s| s.entry);
            if users.is_empty() {
                book.local.remove(&room);
            }
            let after = book.merged(room, user);
            hub.publish_presence(room, user, None);
            hub.announce_change(room, user, &before, &after);
        });
    }

    /// Who is present in a room now, on any node.
    pub fn presence(&self, room: Room) -> Vec<PresenceEntry> {
        lock(&self.presence).everyone(room)
    }

    /// Node `from` says its entry for a user in a room is now `entry`.
    pub(super) fn remote_presence(
        &self,
        from: u64,
        room: Room,
        user: i64,
        entry: Option<PresenceEntry>,
    ) {
        let mut book = lock(&self.presence);
        let before = book.merged(room, user);
        book.set_remote(from, room, user, entry);
        let after = book.merged(room, user);
        self.announce_change(room, user, &before, &after);
    }

    /// Node `from` sent every entry it holds: they replace what this node held for it.
    pub(super) fn remote_alive(&self, from: u64, entries: Vec<(Room, PresenceEntry)>) {
        let mut book = lock(&self.presence);
        let sent: HashSet<(Room, i64)> = entries.iter().map(|(r, e)| (*r, e.user_id)).collect();
        for (room, user) in book.held_by(from) {
            if !sent.contains(&(room, user)) {
                let before = book.merged(room, user);
                book.set_remote(from, room, user, None);
                let after = book.merged(room, user);
                self.announce_change(room, user, &before, &after);
            }
        }
        for (room, entry) in entries {
            let user = entry.user_id;
            let before = book.merged(room, user);
            book.set_remote(from, room, user, Some(entry));
            let after = book.merged(room, user);
            self.announce_change(room, user, &before, &after);
        }
    }

    /// Sends the other nodes every entry this node holds.
    pub(super) fn publish_alive(&self) {
        if self.bus.reaches_others() {
            // Published under the lock (publishing only queues), so no change made
            // after this snapshot can be queued before it and be undone by it.
            let book = lock(&self.presence);
            self.bus.publish(BusMessage::PresenceAlive {
                entries: book.own(),
            });
        }
    }

    /// Drops the other nodes' entries not refreshed within the presence TTL.
    fn expire_remote(&self) {
        let Some(before) = Instant::now().checked_sub(self.config.presence_ttl) else {
            return;
        };
        let mut book = lock(&self.presence);
        for (node, room, user) in book.stale(before) {
            let was = book.merged(room, user);
            book.set_remote(node, room, user, None);
            let now = book.merged(room, user);
            self.announce_change(room, user, &was, &now);
        }
    }

    /// This node (re)joined the other nodes: it asks for their entries and sends its own.
    pub fn bus_connected(&self) {
        self.bus.publish(BusMessage::PresenceQuery);
        self.publish_alive();
    }

    /// Every presence heartbeat: sends this node's entries, drops stale ones of others.
    /// Ends with the hub.
    pub(super) fn spawn_presence_heartbeat(self: &Arc<Self>) {
        let hub: Weak<Hub> = Arc::downgrade(self);
        let every = self.config.presence_heartbeat;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else {
                    return;
                };
                hub.publish_alive();
                hub.expire_remote();
            }
        });
    }
}
