//! The tab's outbox of chat messages: a message is shown at once as pending (optimistic),
//! kept in localStorage until the server has it, so one written offline survives a
//! reload, and sent in order once the connection is back, each with its idempotency key
//! so a retry after a lost answer never stores it twice. A message the server refuses
//! (not a passing failure) stays with its reason and a "Retry" (DESIGN.md, "Concurrency
//! control": the same path as offline edits, [`super::super::edit_queue`]).
//!
//! Every tab reads the stored list as it is now before changing it, and tabs may send at
//! once: the idempotency key makes a message sent by two tabs one message.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::edit_queue::{new_key, read_stored, try_again_later, write_stored};
use crate::model::chat::ChatTarget;

/// The localStorage key the outbox is kept under.
pub const STORAGE_KEY: &str = "tandem.chat-outbox.v1";

/// One message waiting to be stored by the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// Its idempotency key (also how the room matches the stored message to it).
    pub key: String,
    /// Who wrote it: only their session sends it.
    pub user: i64,
    /// Workspace slug.
    pub slug: String,
    /// Where it goes.
    pub target: ChatTarget,
    /// Its text (mentions as `<@id>`).
    pub body: String,
    /// The message it replies to.
    pub reply_to: Option<i64>,
    /// When it was written, Unix ms.
    pub at: i64,
    /// Why the server refused it (it waits for "Retry" or "Discard").
    #[serde(default)]
    pub failed: Option<String>,
}

/// The outbox, from context ([`use_chat_outbox`]); cheap to copy.
#[derive(Clone, Copy)]
pub struct ChatOutbox {
    entries: RwSignal<Vec<QueuedMessage>>,
    sending: RwSignal<bool>,
    retry: RwSignal<u64>,
    user: RwSignal<Option<i64>>,
}

/// The outbox as stored now (in the browser).
fn stored() -> Option<Vec<QueuedMessage>> {
    read_stored(STORAGE_KEY)
}

/// Writes the outbox back at once.
fn store(list: &[QueuedMessage]) {
    write_stored(STORAGE_KEY, &list);
}

impl ChatOutbox {
    /// Every waiting message, oldest first.
    pub fn entries(&self) -> Signal<Vec<QueuedMessage>> {
        self.entries.into()
    }

    /// Says who is signed in (their messages are the ones sent and counted).
    pub fn set_user(&self, user: i64) {
        if self.user.get_untracked() != Some(user) {
            self.user.set(Some(user));
        }
    }

    /// How many of the signed-in user's messages wait.
    pub fn count(&self) -> usize {
        let user = self.user.get();
        self.entries
            .with(|e| e.iter().filter(|m| Some(m.user) == user).count())
    }

    fn update(&self, f: impl FnOnce(&mut Vec<QueuedMessage>)) {
        let mut list = stored().unwrap_or_else(|| self.entries.get_untracked());
        f(&mut list);
        store(&list);
        self.entries.set(list);
    }

    /// Queues a message by `user` (sent as soon as the connection allows); returns its key.
    pub fn push(
        &self,
        user: i64,
        slug: String,
        target: ChatTarget,
        body: String,
        reply_to: Option<i64>,
    ) -> String {
        let key = new_key();
        let message = QueuedMessage {
            key: key.clone(),
            user,
            slug,
            target,
            body,
            reply_to,
            at: crate::model::now_ms(),
            failed: None,
        };
        self.update(|l| l.push(message));
        self.retry.update(|r| *r += 1);
        key
    }

    /// Sends a refused message again (it goes to the end of the line).
    pub fn retry(&self, key: &str) {
        self.update(|l| {
            if let Some(i) = l.iter().position(|m| m.key == key) {
                let mut m = l.remove(i);
                m.failed = None;
                l.push(m);
            }
        });
        self.retry.update(|r| *r += 1);
    }

    /// Drops a waiting message (the server has it, or the writer discarded it).
    pub fn remove(&self, key: &str) {
        if self
            .entries
            .with_untracked(|e| e.iter().any(|m| m.key == key))
        {
            self.update(|l| l.retain(|m| m.key != key));
        }
    }

    /// Sends the user's waiting messages, oldest first, until none is left or the
    /// network fails (then it waits for the next connection).
    async fn send(self, me: i64) {
        loop {
            let next = stored()
                .unwrap_or_else(|| self.entries.get_untracked())
                .into_iter()
                .find(|m| m.user == me && m.failed.is_none());
            let Some(m) = next else { break };
            let result = crate::api::chat::send_chat_message(
                m.slug.clone(),
                m.target,
                m.body.clone(),
                m.reply_to,
                Some(m.key.clone()),
            )
            .await;
            match result {
                Ok(_) => self.remove(&m.key),
                Err(e) if try_again_later(&e) => {
                    // The network or the server failed while the socket looks connected:
                    // try again in a few seconds (a reconnect also does).
                    let retry = self.retry;
                    set_timeout(
                        move || retry.update(|r| *r += 1),
                        std::time::Duration::from_secs(3),
                    );
                    break;
                }
                Err(e) => {
                    let why = crate::components::error_message(&e);
                    self.update(|l| {
                        if let Some(q) = l.iter_mut().find(|q| q.key == m.key) {
                            q.failed = Some(why);
                        }
                    });
                }
            }
        }
        self.sending.set(false);
    }
}

/// The outbox provided by [`ChatOutboxProvider`], if any.
pub fn use_chat_outbox() -> Option<ChatOutbox> {
    use_context::<ChatOutbox>()
}

/// Provides the tab's [`ChatOutbox`] and sends it while the realtime connection is up
/// (it needs [`crate::realtime::RealtimeProvider`] above it).
#[component]
pub fn ChatOutboxProvider(children: Children) -> impl IntoView {
    let entries = RwSignal::new(Vec::new());
    Effect::new(move |_| entries.set(stored().unwrap_or_default()));
    let other_tab = window_event_listener(leptos::ev::storage, move |ev| {
        if ev.key().as_deref() == Some(STORAGE_KEY) {
            entries.set(stored().unwrap_or_default());
        }
    });
    on_cleanup(move || other_tab.remove());
    let outbox = ChatOutbox {
        entries,
        sending: RwSignal::new(false),
        retry: RwSignal::new(0),
        user: RwSignal::new(None),
    };
    provide_context(outbox);
    if let Some(rt) = crate::realtime::use_realtime() {
        Effect::new(move |_| {
            outbox.retry.track();
            let connected = rt.status().get() == crate::realtime::ConnectionStatus::Connected;
            let Some(me) = outbox.user.get() else { return };
            let waiting = outbox
                .entries
                .with(|e| e.iter().any(|m| m.user == me && m.failed.is_none()));
            if connected && waiting && !outbox.sending.get_untracked() {
                outbox.sending.set(true);
                leptos::task::spawn_local(outbox.send(me));
            }
        });
    }
    children()
}
