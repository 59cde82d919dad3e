//! A socket's outbox: the frames waiting to be written to it, bounded, so a socket that
//! cannot keep up is told to resync instead of holding its rooms back, while a replay
//! waits for room instead of overflowing it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use app::realtime::protocol::{Room, ServerFrame};
use tokio::sync::Notify;

use super::hub::{to_json, Frame};

/// Frames waiting to be written to one socket, bounded. When full, the socket is too
/// slow: its queue is dropped and replaced by a `resync` for each of its rooms, so it
/// never holds a room back.
pub struct Outbox {
    state: Mutex<OutboxState>,
    notify: Notify,
    /// Woken whenever the writer takes a frame (for replays waiting for room).
    space: Notify,
    capacity: usize,
}

pub(super) struct OutboxState {
    queue: VecDeque<Frame>,
    /// The rooms the socket is in (each gets a `resync` when the socket is too slow); a
    /// few, so a vector.
    rooms: Vec<Room>,
    closed: bool,
    /// The close frame to send once the queue is drained (code, reason).
    pub(super) close_with: Option<(u16, &'static str)>,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Outbox {
            state: Mutex::new(OutboxState {
                queue: VecDeque::new(),
                rooms: Vec::new(),
                closed: false,
                close_with: None,
            }),
            notify: Notify::new(),
            space: Notify::new(),
            capacity,
        })
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that the socket is in `room` (told to resync there if it is too slow).
    pub(super) fn join(&self, room: Room) {
        let mut s = self.lock();
        if !s.rooms.contains(&room) {
            s.rooms.push(room);
        }
    }

    /// Notes that the socket left `room`.
    pub(super) fn leave(&self, room: Room) {
        self.lock().rooms.retain(|r| *r != room);
    }

    /// Queues a frame. Returns false when the socket was too slow and got resyncs instead.
    pub(super) fn push(&self, frame: Frame) -> bool {
        let ok = {
            let mut s = self.lock();
            if s.queue.len() < self.capacity {
                s.queue.push_back(frame);
                true
            } else {
                crate::metrics::slow_consumer();
                s.queue.clear();
                let rooms = s.rooms.clone();
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

    pub(super) fn send(&self, frame: &ServerFrame) -> bool {
        self.push(to_json(frame))
    }

    /// Queues a frame if the outbox has room and is open; hands it back otherwise.
    pub(super) fn try_push(&self, frame: Frame) -> Result<(), Frame> {
        {
            let mut s = self.lock();
            if s.closed || s.queue.len() >= self.capacity {
                return Err(frame);
            }
            s.queue.push_back(frame);
        }
        self.notify.notify_one();
        Ok(())
    }

    /// Whether the outbox was closed.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Resolves when the writer next takes frames (or the outbox closes). Take it before
    /// trying to queue, so a wake-up in between is not missed.
    pub(super) fn space(&self) -> tokio::sync::futures::Notified<'_> {
        self.space.notified()
    }

    /// Waits for frames and moves every queued one into `batch`, so the writer sends
    /// them with one flush (one `write` to the socket for many frames). The queue's
    /// storage goes with them, so an idle socket holds none. Returns false once closed
    /// and drained.
    pub(super) async fn pop_all(&self, batch: &mut Vec<Frame>) -> bool {
        loop {
            {
                let mut s = self.lock();
                if !s.queue.is_empty() {
                    batch.extend(std::mem::take(&mut s.queue));
                    drop(s);
                    self.space.notify_waiters();
                    return true;
                }
                if s.closed {
                    return false;
                }
            }
            self.notify.notified().await;
        }
    }

    /// Takes every queued frame at once (the hub's unit tests read deliveries this way).
    #[cfg(test)]
    pub(super) fn take_queued(&self) -> Vec<Frame> {
        self.lock().queue.drain(..).collect()
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
        self.space.notify_waiters();
    }

    /// Closes after the queued frames with a close frame carrying `code` and `reason`.
    pub(super) fn close_with(&self, code: u16, reason: &'static str) {
        {
            let mut s = self.lock();
            s.close_with = Some((code, reason));
            s.closed = true;
        }
        self.notify.notify_one();
        self.space.notify_waiters();
    }
}
