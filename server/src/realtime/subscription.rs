//! A socket's subscription to a room: the room's dispatcher pushes each frame straight
//! into the socket's outbox (no task or queue per subscription while it is live), in
//! offset order and exactly once; a subscription that is replaying, or that saw a gap,
//! holds live frames aside until the log has filled what came before them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::realtime::protocol::{Position, Room, ServerFrame};
use app::ssr::Store;

use super::fanout;
use super::hub::{to_json, Delivery, Frame};
use super::outbox::Outbox;

/// What the subscription needs besides its room and outbox.
#[derive(Clone)]
pub struct Replay {
    /// Where missed events are read from; `None` (the hub's unit tests) answers a gap
    /// with a resync.
    pub store: Option<Arc<dyn Store>>,
    /// Events read from the log in one query (the hub's `replay_page`).
    pub page: i64,
    /// How long a replay waits for the socket to take frames before it gives up.
    pub patience: Duration,
    /// Live frames held aside while catching up, at most; past it the socket resyncs.
    pub held: usize,
}

/// One socket's subscription to one room. Shared by the room (which delivers to it) and
/// the socket (which ends it).
pub struct Subscription {
    room: Room,
    socket: u64,
    /// The socket's user: a change that ends their access to the room is the last
    /// thing this subscription delivers.
    user: i64,
    outbox: Arc<Outbox>,
    replay: Replay,
    state: Mutex<State>,
}

struct State {
    /// The epoch of the room's log this subscription follows.
    epoch: i64,
    /// Offset of the last event sent.
    last: i64,
    /// Live frames held aside while the log fills what came before them; `None` when live.
    held: Option<VecDeque<Delivery>>,
    /// Ended (unsubscribed, too slow, or the log was reset): delivers nothing more.
    ended: bool,
    /// Started ([`Subscription::start`]): the socket has its `subscribed` frame.
    started: bool,
    /// Too many frames came before the start: the socket is told to resync once it has
    /// its `subscribed` frame.
    overflowed: bool,
}

/// How a send that waits for room in the outbox ended.
enum Sent {
    /// Queued.
    Queued,
    /// The subscription ended meanwhile (or the socket closed): stop, quietly.
    Ended,
    /// The socket took nothing for the whole patience: it is too slow.
    TooSlow,
}

/// What to do with one delivery, given what was sent so far.
enum Step {
    /// Send it; `true`: it ends the subscriber's access, so nothing follows it.
    Send(Frame, bool),
    /// Already sent (a late or doubled broadcast).
    Skip,
    /// Events up to this offset are missing: fill them from the log first.
    Gap(i64),
    /// The room's log was reset: the client must resync.
    Reset,
}

impl State {
    /// Decides what to do with `d`; marks an event as sent when it says `Send`.
    fn step(&mut self, d: &Delivery, user: i64) -> Step {
        let Some((epoch, offset)) = d.position else {
            return Step::Send(d.frame.clone(), false);
        };
        if epoch != self.epoch {
            Step::Reset
        } else if offset <= self.last {
            Step::Skip
        } else if offset > self.last + 1 {
            Step::Gap(offset - 1)
        } else {
            self.last = offset;
            Step::Send(d.frame.clone(), d.ends_for == Some(user))
        }
    }
}

impl Subscription {
    /// A subscription of socket `socket` (of `user`) to `room`, holding live frames
    /// aside until [`Subscription::start`] says where it begins.
    pub fn new(
        room: Room,
        socket: u64,
        user: i64,
        outbox: Arc<Outbox>,
        replay: Replay,
    ) -> Arc<Self> {
        Arc::new(Subscription {
            room,
            socket,
            user,
            outbox,
            replay,
            state: Mutex::new(State {
                epoch: 0,
                last: 0,
                held: Some(VecDeque::new()),
                ended: false,
                started: false,
                overflowed: false,
            }),
        })
    }

    /// The socket it belongs to.
    pub fn socket(&self) -> u64 {
        self.socket
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts delivering from the room's `head`: first the logged events after
    /// `replay_from` (if any) up to the head, then what arrived meanwhile, then live.
    pub fn start(self: &Arc<Self>, head: Position, replay_from: Option<i64>) {
        let overflowed = {
            let mut st = self.state();
            st.epoch = head.epoch;
            st.last = replay_from.unwrap_or(head.offset);
            st.started = true;
            st.overflowed
        };
        if overflowed {
            self.resync("fell behind the room");
            return;
        }
        let me = self.clone();
        fanout::spawn(async move { me.catch_up(head.offset).await });
    }

    /// Ends the subscription: nothing more is delivered.
    pub fn end(&self) {
        let mut st = self.state();
        st.ended = true;
        st.held = None;
    }

    /// Ends the subscription and tells the socket to resync the room, unless it had
    /// already ended (an unsubscribed room gets nothing more, not even a resync).
    fn resync(&self, reason: &str) {
        let mut st = self.state();
        if !st.ended {
            self.end_with_resync(&mut st, reason);
        }
    }

    /// Ends the subscription and queues the socket's resync of the room, under the
    /// state's lock the caller holds (so nothing of the room is queued after it).
    fn end_with_resync(&self, st: &mut State, reason: &str) {
        st.ended = true;
        st.held = None;
        crate::metrics::resync();
        self.outbox.send(&ServerFrame::Resync {
            room: self.room,
            reason: reason.into(),
        });
    }

    /// The user's access to the room ended with the event just queued: nothing more is
    /// delivered, and the socket is told to resync the room, so its client subscribes
    /// again and learns where it stands (refused, or, for someone who has come back in
    /// since, a fresh start). Called under the state's lock that queued the event, so
    /// the access re-check that the same change sets off (which ends the subscription
    /// too) cannot end it in between and leave the socket without its resync.
    fn access_ended(&self, st: &mut State) {
        self.end_with_resync(st, "your access to this room changed");
    }

    /// Queues `frame`, waiting for room in the outbox up to the patience; gives up at
    /// once when the subscription ends meanwhile. `last`: the frame ends the user's
    /// access to the room ([`Self::access_ended`], in the same step).
    async fn send_waiting(&self, mut frame: Frame, last: bool) -> Sent {
        let deadline = tokio::time::Instant::now() + self.replay.patience;
        loop {
            let space = self.outbox.space();
            {
                // Checked under the subscription's lock, so nothing is queued after an
                // unsubscribe returned.
                let mut st = self.state();
                if st.ended || self.outbox.is_closed() {
                    return Sent::Ended;
                }
                match self.outbox.try_push(frame) {
                    Ok(()) => {
                        if last {
                            self.access_ended(&mut st);
                        }
                        return Sent::Queued;
                    }
                    Err(f) => frame = f,
                }
            }
            if tokio::time::timeout_at(deadline, space).await.is_err() {
                return Sent::TooSlow;
            }
        }
    }

    /// Delivers one frame of the room (the dispatcher's call; never waits): sends it,
    /// skips it, holds it aside while catching up, or starts filling a gap before it.
    /// With `write_now`, a frame sent to a socket with nothing queued is written to it
    /// at once ([`Outbox::write_or_push`]).
    pub fn deliver(self: &Arc<Self>, d: &Delivery, write_now: bool) {
        let mut st = self.state();
        if st.ended {
            return;
        }
        let held_max = self.replay.held;
        if st.overflowed {
            return;
        }
        if let Some(held) = st.held.as_mut() {
            if held.len() < held_max {
                held.push_back(d.clone());
                return;
            }
            if !st.started {
                // The socket has no `subscribed` frame yet: it hears of this after it.
                st.overflowed = true;
                st.held = Some(VecDeque::new());
                return;
            }
            drop(st);
            self.resync("fell behind the room");
            return;
        }
        match st.step(d, self.user) {
            Step::Send(frame, last) => {
                let sent = if write_now {
                    self.outbox.write_or_push(frame)
                } else {
                    self.outbox.push(frame)
                };
                if !sent {
                    // Too slow: the outbox told every room of the socket to resync.
                    st.ended = true;
                } else if last {
                    self.access_ended(&mut st);
                }
            }
            Step::Skip => {}
            Step::Gap(upto) => {
                // Another writer's event is not here yet: fill it from the log.
                st.held = Some(VecDeque::from([d.clone()]));
                drop(st);
                let me = self.clone();
                fanout::spawn(async move { me.catch_up(upto).await });
            }
            Step::Reset => {
                drop(st);
                self.resync("the room's log was reset");
            }
        }
    }

    /// Sends the logged events up to `upto`, then the frames held aside (filling any
    /// further gap the same way), then goes live. Frames are sent one at a time, waiting
    /// for room in the outbox; what arrives meanwhile joins the held frames, in order.
    async fn catch_up(self: Arc<Self>, mut upto: i64) {
        loop {
            let (epoch, after) = {
                let st = self.state();
                if st.ended {
                    return;
                }
                (st.epoch, st.last)
            };
            if after < upto && !self.replay(epoch, after, upto).await {
                return;
            }
            {
                let mut st = self.state();
                st.last = st.last.max(upto);
            }
            loop {
                let frame = {
                    let mut st = self.state();
                    if st.ended {
                        return;
                    }
                    let Some(d) = st.held.as_mut().and_then(VecDeque::pop_front) else {
                        st.held = None; // Live from here.
                        return;
                    };
                    match st.step(&d, self.user) {
                        Step::Send(frame, last) => (frame, last),
                        Step::Skip => continue,
                        Step::Gap(to) => {
                            if let Some(held) = st.held.as_mut() {
                                held.push_front(d);
                            }
                            upto = to;
                            break;
                        }
                        Step::Reset => {
                            drop(st);
                            self.resync("the room's log was reset");
                            return;
                        }
                    }
                };
                let (frame, last) = frame;
                match self.send_waiting(frame, last).await {
                    Sent::Queued if last => return,
                    Sent::Queued => {}
                    Sent::Ended => return,
                    Sent::TooSlow => {
                        self.resync("too slow to catch up");
                        return;
                    }
                }
            }
        }
    }

    /// Sends the logged events with offsets in `after+1 ..= upto`, in pages, waiting for
    /// room in the outbox. Returns false when the subscription ended meanwhile, or (after
    /// telling the socket to resync) when the log cannot cover them or the socket is too
    /// slow.
    async fn replay(&self, epoch: i64, mut after: i64, upto: i64) -> bool {
        let Some(store) = self.replay.store.as_ref() else {
            self.resync("the log is not available");
            return false;
        };
        let page = self.replay.page;
        while after < upto {
            let events = match store
                .room_changes(self.room, epoch, after, upto, page)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "replaying a room");
                    self.resync("replay failed");
                    return false;
                }
            };
            let expected = (upto - after).min(page);
            let complete = i64::try_from(events.len()).is_ok_and(|n| n == expected)
                && events
                    .first()
                    .is_some_and(|c| c.position.offset == after + 1);
            if !complete {
                self.resync("the log no longer holds what was missed");
                return false;
            }
            for c in events {
                after = c.position.offset;
                let last = c.change.ends_access_of(self.room) == Some(self.user);
                let frame = to_json(&ServerFrame::Event {
                    room: self.room,
                    position: c.position,
                    change: c.change,
                });
                // Streamed: waits for room in the outbox rather than overflowing it, and
                // gives up only on a socket that stopped reading.
                match self.send_waiting(frame, last).await {
                    Sent::Queued if last => return false,
                    Sent::Queued => {}
                    Sent::Ended => return false,
                    Sent::TooSlow => {
                        self.resync("too slow to replay");
                        return false;
                    }
                }
            }
            self.state().last = after;
        }
        true
    }
}
