//! A socket's outbox: the frames waiting to be written to it, bounded, so a socket that
//! cannot keep up is told to resync instead of holding its rooms back, while a replay
//! waits for room instead of overflowing it. A WebSocket's outbox with nothing queued
//! and no write under way also writes a frame straight to its socket (the direct path).

use std::collections::VecDeque;
use std::io::{IoSlice, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use app::realtime::protocol::{Room, ServerFrame};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
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
    /// Woken when a frame the direct path wrote only in part has been finished.
    tail_done: Notify,
    capacity: usize,
}

/// Frames the direct path has written since the dispatcher last counted them (for the
/// `tandem_frames_out_total` metric, counted once per dispatch batch, not per frame).
static DIRECT_FRAMES: AtomicU64 = AtomicU64::new(0);

/// Takes the count of frames the direct path wrote since the last call.
pub(super) fn take_direct_frames() -> u64 {
    DIRECT_FRAMES.swap(0, Ordering::Relaxed)
}

/// What a socket's writer does next ([`Outbox::next_work`]).
pub(super) enum Work {
    /// Finish a frame the direct path wrote in part: its bytes from `written` on (the
    /// WebSocket header's included), before anything else goes to the socket.
    Tail { frame: Frame, written: usize },
    /// Write the frames moved into the batch, then call [`Outbox::written`] (a
    /// WebSocket's writer; server-sent events have no direct path to let go on).
    Frames,
    /// The outbox is closed and drained.
    Closed,
}

pub(super) struct OutboxState {
    queue: VecDeque<Frame>,
    /// The WebSocket's own connection (a duplicate of its descriptor), for the direct
    /// path and for finishing what it wrote in part; none for server-sent events.
    socket: Option<TcpStream>,
    /// Whether the direct path may write (turned off for good when the client sends a
    /// ping: the WebSocket library then writes a pong of its own).
    direct: bool,
    /// The writer took frames and has not flushed them yet: new ones queue behind them.
    writing: bool,
    /// A frame the direct path wrote only in part, and how many of its bytes went.
    tail: Option<(Frame, usize)>,
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
                socket: None,
                direct: false,
                writing: false,
                tail: None,
                rooms: Vec::new(),
                closed: false,
                close_with: None,
            }),
            notify: Notify::new(),
            space: Notify::new(),
            tail_done: Notify::new(),
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

    /// Lets the direct path write to `socket`, the WebSocket's own connection (a
    /// duplicate of its descriptor, non-blocking like the original).
    pub(super) fn write_directly_to(&self, socket: TcpStream) {
        let mut s = self.lock();
        s.socket = Some(socket);
        s.direct = true;
    }

    /// Writes a frame straight to the socket when nothing is queued or being written
    /// before it (the direct path: one `writev` on the dispatcher's thread, instead of
    /// waking the socket's writer to copy it into the WebSocket library's buffer), or
    /// queues it ([`Outbox::push`]). What the socket does not take at once is queued as
    /// usual; a frame it takes in part is finished by the writer before anything else.
    /// The dispatcher writes this way only a delivery with none waiting behind it: under
    /// load, queued frames share a write. Returns false as `push` does.
    pub(super) fn write_or_push(&self, frame: Frame) -> bool {
        {
            let mut s = self.lock();
            if s.direct && s.queue.is_empty() && !s.writing && s.tail.is_none() && !s.closed {
                if let Some(socket) = &s.socket {
                    match write_frame(socket, &frame, 0) {
                        Ok(n) if n == frame_len(&frame) => {
                            DIRECT_FRAMES.fetch_add(1, Ordering::Relaxed);
                            return true;
                        }
                        Ok(0) => {}
                        Ok(n) => {
                            s.tail = Some((frame, n));
                            drop(s);
                            self.notify.notify_one();
                            return true;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        // Closed or reset: the writer finds out through the WebSocket.
                        Err(_) => s.direct = false,
                    }
                }
            }
        }
        self.push(frame)
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

    /// The writer's next work, waited for: a frame the direct path wrote in part comes
    /// first (only a WebSocket's outbox has one); then every queued frame, moved into
    /// `batch` so the writer sends them with one flush (one `write` to the socket for
    /// many frames), while the direct path holds off until [`Outbox::written`]. The
    /// queue's storage goes with the frames, so an idle socket holds none.
    pub(super) async fn next_work(&self, batch: &mut Vec<Frame>) -> Work {
        loop {
            {
                let mut s = self.lock();
                if let Some((frame, written)) = &s.tail {
                    return Work::Tail {
                        frame: frame.clone(),
                        written: *written,
                    };
                }
                if !s.queue.is_empty() {
                    s.writing = true;
                    batch.extend(std::mem::take(&mut s.queue));
                    drop(s);
                    self.space.notify_waiters();
                    return Work::Frames;
                }
                if s.closed {
                    return Work::Closed;
                }
            }
            self.notify.notified().await;
        }
    }

    /// The writer has flushed what it took: the direct path may write again.
    pub(super) fn written(&self) {
        self.lock().writing = false;
    }

    /// Writes the rest of the frame the direct path wrote in part, waiting for the socket
    /// to take it (on the runtime of the caller, the socket's writer), then lets the
    /// writer and the direct path go on. Errors: the socket failed (it is closed).
    pub(super) async fn finish_tail(
        &self,
        frame: Frame,
        mut written: usize,
    ) -> std::io::Result<()> {
        let socket = match &self.lock().socket {
            Some(socket) => socket.try_clone()?,
            None => return Err(std::io::ErrorKind::NotConnected.into()),
        };
        // SAFETY: a `TcpStream` owns its descriptor, which stays open and the same until
        // the stream is dropped, with the `AsyncFd` that owns it.
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) }?;
        let total = frame_len(&frame);
        while written < total {
            let mut ready = socket.writable().await?;
            match ready.try_io(|s| write_frame(s.get_ref(), &frame, written)) {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
        self.lock().tail = None;
        DIRECT_FRAMES.fetch_add(1, Ordering::Relaxed);
        self.tail_done.notify_waiters();
        Ok(())
    }

    /// Turns the direct path off for good and waits until nothing it wrote is left
    /// unfinished. The reader calls it on a client's ping: the WebSocket library answers
    /// with a pong of its own on its next read or write, which must not land inside a
    /// frame written in part.
    pub(super) async fn stop_direct(&self) {
        loop {
            let done = self.tail_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            {
                let mut s = self.lock();
                s.direct = false;
                if s.tail.is_none() {
                    return;
                }
            }
            done.await;
        }
    }

    /// The writer has ended: lets the socket go (the duplicate descriptor would keep the
    /// connection open) and wakes whoever waits on an unfinished frame.
    pub(super) fn writer_ended(&self) {
        {
            let mut s = self.lock();
            s.socket = None;
            s.direct = false;
            s.tail = None;
        }
        self.tail_done.notify_waiters();
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

/// The bytes of `frame` as a WebSocket text frame from a server (RFC 6455 section 5.2:
/// final, unmasked): its header's length plus its payload's.
fn frame_len(frame: &Frame) -> usize {
    let n = frame.as_str().len();
    n + header(n).1
}

/// The header of a server's text frame with a payload of `len` bytes (RFC 6455 section
/// 5.2: final, unmasked, the length in 1, 3 or 9 bytes): its bytes and how many of them
/// count.
fn header(len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = 0x81; // FIN, text
    let used = match len {
        0..=125 => {
            header[1] = len as u8;
            2
        }
        126..=0xffff => {
            header[1] = 126;
            header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            header[1] = 127;
            header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    (header, used)
}

/// Writes `frame` as a WebSocket text frame (header and payload in one `writev`) from its
/// byte `skip` on, without waiting; returns how many bytes the socket took.
fn write_frame(mut socket: &TcpStream, frame: &Frame, skip: usize) -> std::io::Result<usize> {
    let payload = frame.as_str().as_bytes();
    let (header, header_len) = header(payload.len());
    if skip < header_len {
        socket.write_vectored(&[
            IoSlice::new(&header[skip..header_len]),
            IoSlice::new(payload),
        ])
    } else {
        socket.write(&payload[skip - header_len..])
    }
}
