//! The tab's outbox of record edits: every field save goes through it, so an edit made
//! offline (or whose request failed for a passing reason: the network, the server, an
//! ended session) is kept in localStorage, survives a
//! reload and a browser restart, and is sent in order once the connection is back, each
//! with an idempotency key so that nothing is applied twice (DESIGN.md, "Concurrency
//! control"). Forms learn each edit's outcome (applied, conflict, refused) by listening
//! to their record.
//!
//! Every tab of the browser shares the stored queue: each change is made to the list as
//! stored now (another tab may have written it since this one last heard) and written
//! back at once, and only one tab at a time sends it (the Web Locks API's
//! `tandem.outbox` lock), so two tabs neither send an edit twice nor write each other's
//! edits away. The storage is read and written directly rather than through leptos-use's
//! `use_storage`, which writes a tab's copy back from an effect, later: that put back
//! edits another tab had just sent, and they were sent again.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, EditConflict};
use crate::model::{FieldChange, Record, RecordKind, Value};

/// The localStorage key the queue is kept under (one queue for every workspace).
pub const STORAGE_KEY: &str = "tandem.outbox.v1";

/// One queued update of one record: a field save, an undo, or a conflict's resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedEdit {
    /// Its idempotency key (unique per edit; the server keeps its first answer a day).
    pub key: String,
    /// The user who made it: only their session sends it (another user signing in on
    /// this browser does not send someone else's edits).
    pub user: i64,
    /// Workspace slug.
    pub slug: String,
    /// Record kind.
    pub kind: RecordKind,
    /// Record id.
    pub id: i64,
    /// Per field: the value the editor started from and the one they want.
    pub changes: BTreeMap<String, FieldChange>,
    /// Fields to write by explicit overwrite (confirmed last writer wins).
    #[serde(default)]
    pub overwrite: Vec<String>,
    /// A clash the server answered while no form of the record was open: kept (and not
    /// sent again) until one opens and asks the user.
    #[serde(default)]
    pub conflict: Option<EditConflict>,
}

/// How a queued edit ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Applied (or already there): the record as stored after it.
    Applied(Record),
    /// Someone else changed a field of it: nothing was applied.
    Conflict(EditConflict),
    /// Refused (validation, a deleted record, no right): nothing was applied.
    Failed(AppError),
}

type OutcomeFn = Arc<dyn Fn(&QueuedEdit, &Outcome) + Send + Sync>;

/// The queue, from context ([`use_edit_queue`]); cheap to copy.
#[derive(Clone, Copy)]
pub struct EditQueue {
    entries: RwSignal<Vec<QueuedEdit>>,
    listeners: StoredValue<Vec<(u64, RecordKind, i64, OutcomeFn)>>,
    next_listener: StoredValue<u64>,
    sending: RwSignal<bool>,
    /// The key of the edit whose request is under way, if any (it stays queued).
    in_flight: StoredValue<Option<String>>,
    /// Bumped to try again after a network failure, or while another tab sends.
    retry: RwSignal<u64>,
    /// The signed-in user, from the page (known offline too): only their edits are sent
    /// and counted.
    user: RwSignal<Option<i64>>,
}

impl EditQueue {
    /// Every queued edit, oldest first.
    pub fn entries(&self) -> Signal<Vec<QueuedEdit>> {
        self.entries.into()
    }

    /// Says who is signed in (the page knows it before the socket does, and offline).
    pub fn set_user(&self, user: i64) {
        if self.user.get_untracked() != Some(user) {
            self.user.set(Some(user));
        }
    }

    /// How many of the signed-in user's edits are waiting (to be sent, or for their clash
    /// to be resolved).
    pub fn count(&self) -> usize {
        let user = self.user.get();
        self.entries
            .with(|e| e.iter().filter(|e| Some(e.user) == user).count())
    }

    /// Queues an edit (it is sent as soon as the connection allows).
    pub fn push(&self, edit: QueuedEdit) {
        self.update(|e| e.push(edit));
    }

    /// The queue as stored now (this tab's copy where storage cannot be read).
    fn current(&self) -> Vec<QueuedEdit> {
        stored_queue().unwrap_or_else(|| self.entries.get_untracked())
    }

    /// Changes the queue as stored now and writes it back at once (see the module's
    /// note on tabs); `f` gets the list oldest first.
    fn update(&self, f: impl FnOnce(&mut Vec<QueuedEdit>)) {
        let mut list = self.current();
        f(&mut list);
        store_queue(&list);
        self.entries.set(list);
    }

    /// Removes the signed-in user's queued edits of record (`kind`, `id`) that `pick`
    /// chooses (never the one whose request is under way), oldest first. The queue is
    /// written only when one goes: forms follow the queue from effects, and a write of
    /// it would run them again.
    fn take_where(
        &self,
        kind: RecordKind,
        id: i64,
        pick: impl Fn(&QueuedEdit) -> bool,
    ) -> Vec<QueuedEdit> {
        let user = self.user.get_untracked();
        let in_flight = self.in_flight.get_value();
        let chosen = |e: &QueuedEdit| {
            e.kind == kind
                && e.id == id
                && Some(e.user) == user
                && in_flight.as_ref() != Some(&e.key)
                && pick(e)
        };
        let mut taken = Vec::new();
        if self.current().iter().any(chosen) {
            self.update(|entries| {
                entries.retain(|e| {
                    let go = chosen(e);
                    if go {
                        taken.push(e.clone());
                    }
                    !go
                })
            });
        }
        taken
    }

    /// Removes the signed-in user's edits of record (`kind`, `id`) that change `field` and
    /// are not sent yet (a clash or a refusal makes them moot), returning the last value
    /// they wanted.
    pub fn drop_field(&self, kind: RecordKind, id: i64, field: &str) -> Option<Value> {
        self.take_where(kind, id, |e| e.changes.contains_key(field))
            .pop()
            .and_then(|e| e.changes.get(field).map(|c| c.value.clone()))
    }

    /// Takes the signed-in user's clashes parked for record (`kind`, `id`) while no form of
    /// it was open.
    pub fn take_parked(&self, kind: RecordKind, id: i64) -> Vec<QueuedEdit> {
        self.take_where(kind, id, |e| e.conflict.is_some())
    }

    /// Calls `f` with the outcome of each edit of record (`kind`, `id`) for the life of the
    /// calling component.
    pub fn on_outcome(
        &self,
        kind: RecordKind,
        id: i64,
        f: impl Fn(&QueuedEdit, &Outcome) + Send + Sync + 'static,
    ) {
        let n = self.next_listener.get_value();
        self.next_listener.set_value(n + 1);
        self.listeners
            .update_value(|l| l.push((n, kind, id, Arc::new(f))));
        let listeners = self.listeners;
        on_cleanup(move || {
            listeners.try_update_value(|l| l.retain(|(m, ..)| *m != n));
        });
    }

    /// Delivers an outcome to the record's listeners; false when none listens.
    fn deliver(&self, edit: &QueuedEdit, outcome: &Outcome) -> bool {
        let fs: Vec<OutcomeFn> = self.listeners.with_value(|l| {
            l.iter()
                .filter(|(_, k, id, _)| (*k, *id) == (edit.kind, edit.id))
                .map(|(.., f)| f.clone())
                .collect()
        });
        for f in &fs {
            f(edit, outcome);
        }
        !fs.is_empty()
    }

    /// Sends queued edits in order while the connection is up; stops at a network
    /// failure (tried again after a while or on reconnect).
    async fn drain(self, user: i64) {
        loop {
            let next = self
                .current()
                .into_iter()
                .find(|e| e.conflict.is_none() && e.user == user);
            let Some(edit) = next else { break };
            self.in_flight.set_value(Some(edit.key.clone()));
            let overwrite = (!edit.overwrite.is_empty()).then(|| edit.overwrite.clone());
            let answer = crate::api::records::update_record(
                edit.slug.clone(),
                edit.kind,
                edit.id,
                edit.changes.clone(),
                overwrite,
                Some(edit.key.clone()),
            )
            .await;
            self.in_flight.set_value(None);
            let outcome = match answer {
                Err(e) if try_again_later(&e) => {
                    // Kept, and sent again in a while (in order: nothing behind it
                    // goes first).
                    self.retry_after(3);
                    break;
                }
                Ok(r) => Outcome::Applied(r),
                Err(AppError::Conflict(c)) => Outcome::Conflict(*c),
                Err(e) => Outcome::Failed(e),
            };
            let heard = self.deliver(&edit, &outcome);
            self.update(|entries| match (&outcome, heard) {
                (Outcome::Conflict(c), false) => {
                    if let Some(e) = entries.iter_mut().find(|e| e.key == edit.key) {
                        e.conflict = Some(c.clone());
                    }
                }
                _ => entries.retain(|e| e.key != edit.key),
            });
        }
        self.sending.set(false);
    }

    /// Sends the queue if this tab gets the outbox lock; another tab holding it sends it
    /// instead (this one tries again in a second, in case it has just finished).
    async fn send(self, user: i64) {
        match outbox_lock().await {
            Some(lock) => {
                self.drain(user).await;
                #[cfg(feature = "hydrate")]
                if let Some(release) = lock {
                    let _ = release.call0(&wasm_bindgen::JsValue::UNDEFINED);
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = lock;
            }
            None => {
                self.sending.set(false);
                self.retry_after(1);
            }
        }
    }

    /// Bumps `retry` after `secs` seconds, so the sender runs again.
    fn retry_after(&self, secs: u64) {
        let retry = self.retry;
        #[cfg(feature = "hydrate")]
        set_timeout(
            move || retry.update(|n| *n += 1),
            std::time::Duration::from_secs(secs),
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (retry, secs);
    }
}

/// Whether an edit refused with `e` stays queued and is sent again later, rather than
/// rolled back: the network or the request failed (`Request`), the server failed
/// (`Internal`, a 500), too many writes (`RateLimited`), or the session ended
/// (`Unauthorized`: it is sent once the person signs in again). Anything else is the
/// server's final word on that edit (validation, no right, a deleted record).
pub fn try_again_later(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Request(_)
            | AppError::Internal
            | AppError::RateLimited { .. }
            | AppError::Unauthorized
    )
}

/// The queue as stored in localStorage now, if it can be read (in the browser).
fn stored_queue() -> Option<Vec<QueuedEdit>> {
    read_stored(STORAGE_KEY)
}

/// Writes the queue to localStorage (in the browser; a failure leaves it in memory).
fn store_queue(list: &[QueuedEdit]) {
    write_stored(STORAGE_KEY, &list);
}

/// The JSON value stored in localStorage under `key`, if it can be read (in the
/// browser; `None` on the server). The record edits' and chat messages' outboxes keep
/// themselves this way.
pub(crate) fn read_stored<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    #[cfg(feature = "hydrate")]
    {
        let text = window().local_storage().ok()??.get_item(key).ok()??;
        serde_json::from_str(&text).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

/// Stores `value` as JSON in localStorage under `key` (in the browser; a failure leaves
/// the caller's copy in memory only).
pub(crate) fn write_stored<T: Serialize>(key: &str, value: &T) {
    #[cfg(feature = "hydrate")]
    if let (Ok(Some(storage)), Ok(text)) = (window().local_storage(), serde_json::to_string(value))
    {
        let _ = storage.set_item(key, &text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// Lets go of the outbox lock when called (a JavaScript function in the browser).
#[cfg(feature = "hydrate")]
type Release = js_sys::Function;
#[cfg(not(feature = "hydrate"))]
type Release = ();

/// Takes the browser-wide `tandem.outbox` lock if no other tab holds it (Web Locks API,
/// `navigator.locks.request` with `ifAvailable`). `None`: another tab holds it.
/// `Some(release)`: this tab holds it until `release` is called (`Some(None)` where the
/// browser has no Web Locks: the tab sends alone, as a single tab always did).
async fn outbox_lock() -> Option<Option<Release>> {
    #[cfg(feature = "hydrate")]
    {
        use js_sys::{Function, Object, Promise, Reflect};
        use std::cell::RefCell;
        use std::rc::Rc;
        use wasm_bindgen::{closure::Closure, JsCast, JsValue};

        let locks = Reflect::get(&window().navigator(), &"locks".into())
            .ok()
            .filter(|l| !l.is_undefined() && !l.is_null());
        let Some(locks) = locks else {
            return Some(None);
        };
        let Some(request) = Reflect::get(&locks, &"request".into())
            .ok()
            .and_then(|r| r.dyn_into::<Function>().ok())
        else {
            return Some(None);
        };
        let (tx, rx) = futures::channel::oneshot::channel::<Option<Function>>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        let granted = Closure::once_into_js(move |lock: JsValue| -> Promise {
            let send = |v| {
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(v);
                }
            };
            if lock.is_null() {
                send(None);
                return Promise::resolve(&JsValue::UNDEFINED);
            }
            // The lock is held until this promise settles: when `release` is called.
            let mut release = None;
            let held = Promise::new(&mut |resolve, _| release = Some(resolve));
            send(release);
            held
        });
        let options = Object::new();
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
        if request
            .call3(&locks, &"tandem.outbox".into(), &options, &granted)
            .is_err()
        {
            return Some(None);
        }
        match rx.await {
            Ok(Some(release)) => Some(Some(release)),
            Ok(None) => None,
            Err(_) => Some(None),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    Some(None)
}

/// The queue provided by [`EditQueueProvider`], if any.
pub fn use_edit_queue() -> Option<EditQueue> {
    use_context::<EditQueue>()
}

/// A new idempotency key: the time and 53 random bits, in hex.
pub fn new_key() -> String {
    #[cfg(feature = "hydrate")]
    let random = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    #[cfg(not(feature = "hydrate"))]
    let random = 0u64;
    format!("{:x}-{random:x}", crate::model::now_ms())
}

/// Provides the tab's [`EditQueue`] to its children and sends it while the realtime
/// connection is up (it needs [`crate::realtime::RealtimeProvider`] above it).
#[component]
pub fn EditQueueProvider(children: Children) -> impl IntoView {
    // This tab's copy of the stored queue: read once hydrated (the server's HTML knows no
    // queue, so it hydrates as is) and again whenever another tab writes it. Only
    // `EditQueue::update` writes the storage, at once: no copy is ever written back later
    // over a newer list.
    let entries = RwSignal::new(Vec::new());
    Effect::new(move |_| entries.set(stored_queue().unwrap_or_default()));
    let other_tab = window_event_listener(leptos::ev::storage, move |ev| {
        if ev.key().as_deref() == Some(STORAGE_KEY) {
            entries.set(stored_queue().unwrap_or_default());
        }
    });
    on_cleanup(move || other_tab.remove());
    let queue = EditQueue {
        entries,
        listeners: StoredValue::new(Vec::new()),
        next_listener: StoredValue::new(0),
        sending: RwSignal::new(false),
        in_flight: StoredValue::new(None),
        retry: RwSignal::new(0),
        user: RwSignal::new(None),
    };
    provide_context(queue);
    if let Some(rt) = crate::realtime::use_realtime() {
        Effect::new(move |_| {
            queue.retry.track();
            let connected = rt.status().get() == crate::realtime::ConnectionStatus::Connected;
            let Some(me) = queue.user.get() else { return };
            let waiting = queue
                .entries
                .with(|e| e.iter().any(|e| e.conflict.is_none() && e.user == me));
            if connected && waiting && !queue.sending.get_untracked() {
                queue.sending.set(true);
                leptos::task::spawn_local(queue.send(me));
            }
        });
    }
    children()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_failures_keep_an_edit_queued() {
        for e in [
            AppError::Request("offline".into()),
            AppError::Internal,
            AppError::RateLimited {
                retry_after_secs: 2,
            },
            AppError::Unauthorized,
        ] {
            assert!(try_again_later(&e), "{e:?} keeps the edit");
        }
        for e in [
            AppError::invalid("year_established", "not a year"),
            AppError::Forbidden("viewers cannot edit".into()),
            AppError::NotFound("no such customer".into()),
            AppError::Gone("Ada deleted this record".into()),
        ] {
            assert!(!try_again_later(&e), "{e:?} is final");
        }
    }
}
