//! The hub's registry of sockets per user and per address: it enforces the connection
//! caps and reaches every socket of a user (or of a session) when access changes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use std::sync::atomic::{AtomicU8, Ordering};

use app::ssr::AccessControl;
use tokio::sync::Notify;

use super::{lock, Hub};
use crate::realtime::bus::BusMessage;

/// What a socket's task is told by the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Re-authorize every room (the user's membership or role changed).
    Recheck,
    /// The session ended: close the socket.
    SessionEnded,
    /// The server is shutting down: tell the client to reconnect later, then close.
    Drain,
}

impl Control {
    fn bit(self) -> u8 {
        match self {
            Control::Recheck => 1,
            Control::SessionEnded => 2,
            Control::Drain => 4,
        }
    }
}

/// What the hub has told one socket's task and not yet been taken: a set of flags and
/// one wake-up (a few bytes per socket, where a channel took half a kilobyte). Repeated
/// rechecks before the task gets to them count once.
#[derive(Default)]
pub struct Controls {
    flags: AtomicU8,
    notify: Notify,
}

impl Controls {
    fn tell(&self, control: Control) {
        self.flags.fetch_or(control.bit(), Ordering::AcqRel);
        self.notify.notify_one();
    }

    /// Waits for the next thing to do; a session that ended comes before a recheck.
    pub async fn next(&self) -> Control {
        loop {
            let flags = self.flags.swap(0, Ordering::AcqRel);
            if flags & Control::SessionEnded.bit() != 0 {
                return Control::SessionEnded;
            }
            if flags & Control::Drain.bit() != 0 {
                return Control::Drain;
            }
            if flags & Control::Recheck.bit() != 0 {
                return Control::Recheck;
            }
            self.notify.notified().await;
        }
    }
}

struct SocketEntry {
    session: Option<String>,
    control: Arc<Controls>,
}

/// Open sockets by user (each with its session and control channel) and per address.
#[derive(Default)]
pub(super) struct Sockets {
    by_user: HashMap<i64, HashMap<u64, SocketEntry>>,
    by_ip: HashMap<IpAddr, usize>,
    /// The node is shutting down: a socket registered now is told to drain at once (it
    /// was accepted before the drain began).
    draining: bool,
}

/// Why a socket was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SocketLimit {
    /// The user holds the most sockets allowed.
    #[error("you have {0} connections open already; close a tab")]
    PerUser(usize),
    /// The client address holds the most sockets allowed.
    #[error("{0} connections are open from your address already")]
    PerIp(usize),
}

/// A socket's place in the hub's registry; dropping it unregisters the socket.
pub struct Registration {
    hub: Arc<Hub>,
    user: i64,
    socket: u64,
    ip: Option<IpAddr>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut sockets = lock(&self.hub.sockets);
        if let Some(mine) = sockets.by_user.get_mut(&self.user) {
            mine.remove(&self.socket);
            if mine.is_empty() {
                sockets.by_user.remove(&self.user);
            }
        }
        if let Some(ip) = self.ip {
            if let Some(n) = sockets.by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    sockets.by_ip.remove(&ip);
                }
            }
        }
    }
}

impl Hub {
    /// Tells every socket on this node that the server is shutting down: each sends its
    /// client a `reconnect` frame (with a delay within the hub's `reconnect_spread`)
    /// and closes. Returns how many were told.
    pub fn drain(&self) -> usize {
        let mut sockets = lock(&self.sockets);
        sockets.draining = true;
        let mut n = 0;
        for entry in sockets.by_user.values().flat_map(HashMap::values) {
            entry.control.tell(Control::Drain);
            n += 1;
        }
        n
    }

    /// Sockets currently registered (for metrics and tests).
    pub fn socket_count(&self) -> usize {
        lock(&self.sockets).by_user.values().map(HashMap::len).sum()
    }

    /// Registers a socket of `user` (opened with `session`, from `ip`) within the caps.
    /// Returns its registration (dropping it unregisters) and the [`Controls`] through
    /// which the hub tells it to re-authorize or close.
    /// Errors: the user or the address holds the most sockets allowed.
    pub fn register(
        self: &Arc<Self>,
        socket: u64,
        user: i64,
        session: Option<String>,
        ip: Option<IpAddr>,
    ) -> Result<(Registration, Arc<Controls>), SocketLimit> {
        let mut sockets = lock(&self.sockets);
        let mine = sockets.by_user.get(&user).map_or(0, HashMap::len);
        if mine >= self.config.max_sockets_per_user {
            return Err(SocketLimit::PerUser(mine));
        }
        if let Some(ip) = ip {
            let n = sockets.by_ip.get(&ip).copied().unwrap_or(0);
            if n >= self.config.max_sockets_per_ip {
                return Err(SocketLimit::PerIp(n));
            }
            *sockets.by_ip.entry(ip).or_default() += 1;
        }
        let control = Arc::new(Controls::default());
        if sockets.draining {
            control.tell(Control::Drain);
        }
        sockets.by_user.entry(user).or_default().insert(
            socket,
            SocketEntry {
                session,
                control: control.clone(),
            },
        );
        let registration = Registration {
            hub: self.clone(),
            user,
            socket,
            ip,
        };
        Ok((registration, control))
    }

    pub(super) fn control_user(&self, user: i64, control: Control) {
        // Before the sockets re-check, so they read the new role.
        self.cache.forget_user(user);
        if let Some(mine) = lock(&self.sockets).by_user.get(&user) {
            for entry in mine.values() {
                entry.control.tell(control);
            }
        }
    }

    pub(super) fn control_session(&self, session: &str) {
        self.cache.forget_session(session);
        for mine in lock(&self.sockets).by_user.values() {
            for entry in mine.values() {
                if entry.session.as_deref() == Some(session) {
                    entry.control.tell(Control::SessionEnded);
                }
            }
        }
    }
}

impl AccessControl for Hub {
    fn recheck_user(&self, user: i64) {
        self.bus.publish(BusMessage::RecheckUser { user });
        self.control_user(user, Control::Recheck);
    }

    fn end_session(&self, session_id: &str) {
        self.bus.publish(BusMessage::EndSession {
            session: session_id.to_string(),
        });
        self.control_session(session_id);
    }
}
