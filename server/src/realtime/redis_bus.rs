//! The bus between nodes over Redis pub/sub, for several nodes behind a load balancer
//! (`--redis-url`). Each message is JSON tagged with the sending node's id, so a node
//! ignores its own (as socketioxide-redis' adapter does), and goes on one of a sharded set
//! of channels (`tandem:bus:0` … `tandem:bus:15` by room, `tandem:bus:all` for the rest),
//! all read through one pattern subscription.
//!
//! Redis is a fast path, not the record: a message it drops (a restart, a network blip,
//! a slow subscriber cut off) is an event some node did not hear of, which that node's
//! subscriptions find as a gap by offset and fill from the database's change log, and
//! its head check fills at the tail; presence is repaired by the next heartbeat. So
//! nothing is lost and, since subscriptions skip offsets they have, nothing doubles.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use app::model::now_ms;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::bus::{Bus, BusMessage};
use super::Hub;

/// Channels frames and presence are spread over, by room.
const SHARDS: u64 = 16;
/// Messages waiting to be published, at most; past it they are dropped (and repaired).
const QUEUE: usize = 100_000;
/// Messages sent to Redis in one pipeline, at most.
const BATCH: usize = 256;

/// A message on the wire: the sender, when it sent it (ms since the epoch, for the lag
/// metric) and the message.
#[derive(Serialize)]
struct Outgoing<'a> {
    node: u64,
    at: i64,
    message: &'a BusMessage,
}

#[derive(Deserialize)]
struct Incoming {
    node: u64,
    at: i64,
    message: BusMessage,
}

/// The Redis bus of one node. Publishing only queues (it never blocks the hub); a task
/// sends the queue to Redis in pipelines, another reads the other nodes' messages and
/// hands them to the hub, reconnecting after a failure.
pub struct RedisBus {
    node: u64,
    queue: mpsc::Sender<(String, String)>,
    client: redis::Client,
    started: OnceLock<()>,
}

impl RedisBus {
    /// A bus to the Redis at `url` (`redis://host:port/`), with a random node id. Starts
    /// the publishing task (so it must be called inside the runtime); connects lazily and
    /// reconnects by itself.
    ///
    /// Errors: the URL does not parse.
    pub fn new(url: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("the Redis URL {url:?} is not valid: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| anyhow::anyhow!("setting up the Redis connection: {e}"))?;
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(publish_queued(manager, pending));
        Ok(Arc::new(RedisBus {
            node: rand::random::<u64>() >> 1,
            queue,
            client,
            started: OnceLock::new(),
        }))
    }

    /// This node's id on the bus.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Starts reading the other nodes' messages into `hub` (once; later calls do
    /// nothing). The reading task ends when the hub is dropped.
    pub fn attach(&self, hub: &Arc<Hub>) {
        if self.started.set(()).is_err() {
            return;
        }
        // This node's own presence heartbeat comes back through the subscription, so
        // three heartbeats without any message mean the connection is dead.
        let silence = hub.config().presence_heartbeat * 3;
        tokio::spawn(subscribe(
            self.client.clone(),
            self.node,
            Arc::downgrade(hub),
            silence,
        ));
    }
}

/// The channel a message goes on: its room's shard, or `all`.
fn channel(message: &BusMessage) -> String {
    let room = match message {
        BusMessage::Frame { room, .. } | BusMessage::Presence { room, .. } => room,
        _ => return "tandem:bus:all".to_string(),
    };
    // FNV-1a of the room's name: stable across nodes and builds.
    let hash = room.name().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("tandem:bus:{}", hash % SHARDS)
}

impl Bus for RedisBus {
    fn publish(&self, message: BusMessage) {
        let payload = match serde_json::to_string(&Outgoing {
            node: self.node,
            at: now_ms(),
            message: &message,
        }) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "serializing a bus message");
                return;
            }
        };
        if self.queue.try_send((channel(&message), payload)).is_err() {
            crate::metrics::bus_dropped(1);
        }
    }
}

/// Sends queued messages to Redis, a pipeline per batch, until the bus is dropped. A
/// batch that fails is dropped (counted, and repaired as the module says).
async fn publish_queued(
    mut redis: ConnectionManager,
    mut pending: mpsc::Receiver<(String, String)>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut failing = false;
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.publish(channel, payload).ignore();
        }
        match pipe.query_async::<()>(&mut redis).await {
            Ok(()) => {
                if failing {
                    tracing::info!("publishing to Redis again");
                    failing = false;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "publishing to Redis failed; the change log fills what is lost");
                    failing = true;
                }
                crate::metrics::bus_dropped(batch.len());
            }
        }
        batch.clear();
    }
}

/// Reads the other nodes' messages into the hub, reconnecting (backing off from 100 ms
/// to 2 s) whenever the subscription ends or stays silent for `silence` (a half-open
/// connection), until the hub is dropped.
async fn subscribe(client: redis::Client, me: u64, hub: Weak<Hub>, silence: Duration) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        let connected = tokio::time::timeout(Duration::from_secs(2), async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe("tandem:bus:*").await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = Duration::from_millis(100);
                crate::metrics::bus_connected(true);
                tracing::info!(node = me, "subscribed to the Redis bus");
                match hub.upgrade() {
                    Some(hub) => hub.bus_connected(),
                    None => return,
                }
                let mut messages = pubsub.into_on_message();
                let mut check =
                    tokio::time::interval_at(tokio::time::Instant::now() + silence, silence);
                let mut heard = false;
                loop {
                    let msg = tokio::select! {
                        m = messages.next() => match m {
                            Some(m) => m,
                            None => break,
                        },
                        _ = check.tick() => {
                            if hub.strong_count() == 0 {
                                return;
                            }
                            if !std::mem::take(&mut heard) {
                                tracing::warn!(?silence, "nothing from the Redis bus, not even this node's heartbeat");
                                break;
                            }
                            continue;
                        }
                    };
                    heard = true;
                    let incoming: Incoming = match serde_json::from_slice(msg.get_payload_bytes()) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(error = %e, channel = msg.get_channel_name(), "an unreadable bus message");
                            continue;
                        }
                    };
                    if incoming.node == me {
                        continue;
                    }
                    crate::metrics::bus_received(now_ms() - incoming.at);
                    let Some(hub) = hub.upgrade() else {
                        return;
                    };
                    hub.deliver_from_bus(incoming.node, incoming.message);
                }
                crate::metrics::bus_connected(false);
                tracing::warn!("the Redis bus subscription ended; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "subscribing to the Redis bus"),
            Err(_) => tracing::warn!("subscribing to the Redis bus timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::realtime::protocol::{PresenceEntry, Room, Status};

    #[test]
    fn messages_round_trip_and_a_room_keeps_its_channel() {
        let entry = PresenceEntry {
            user_id: 3,
            name: "Ann".into(),
            color: "#123456".into(),
            status: Status::Online,
            page: "/w/a".into(),
            editing: None,
            last_seen: 9,
        };
        let sent = BusMessage::PresenceAlive {
            entries: vec![(Room::Chat(4), entry.clone())],
        };
        let text = serde_json::to_string(&Outgoing {
            node: 7,
            at: 1,
            message: &sent,
        })
        .unwrap();
        let got: Incoming = serde_json::from_str(&text).unwrap();
        assert_eq!(got.node, 7);
        match got.message {
            BusMessage::PresenceAlive { entries } => {
                assert_eq!(entries, vec![(Room::Chat(4), entry)])
            }
            other => panic!("got {other:?}"),
        }
        let frame = BusMessage::Frame {
            room: Room::Workspace(2),
            position: Some((1, 5)),
            frame: "{\"type\":\"x\"}".into(),
            ends_for: None,
        };
        let a = channel(&frame);
        assert_eq!(a, channel(&frame.clone()));
        assert!(a.starts_with("tandem:bus:") && a != "tandem:bus:all");
        assert_eq!(
            channel(&BusMessage::RecheckUser { user: 1 }),
            "tandem:bus:all"
        );
    }
}
