//! The tab's outbox of record edits: every field save goes through it, so an edit made
//! offline (or whose request failed for the network) is kept in localStorage, survives a
//! reload and a browser restart, and is sent in order once the connection is back, each
//! with an idempotency key so that nothing is applied twice (DESIGN.md, "Concurrency
//! control"). Forms learn each edit's outcome (applied, conflict, refused) by listening
//! to their record.

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
    entries: Signal<Vec<QueuedEdit>>,
    set_entries: WriteSignal<Vec<QueuedEdit>>,
    listeners: StoredValue<Vec<(u64, RecordKind, i64, OutcomeFn)>>,
    next_listener: StoredValue<u64>,
    sending: RwSignal<bool>,
    /// Bumped to try again after a network failure.
    retry: RwSignal<u64>,
    /// The signed-in user, from the page (known offline too): only their edits are sent
    /// and counted.
    user: RwSignal<Option<i64>>,
}

impl EditQueue {
    /// Every queued edit, oldest first.
    pub fn entries(&self) -> Signal<Vec<QueuedEdit>> {
        self.entries
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
        self.set_entries.update(|e| e.push(edit));
    }

    /// Removes the signed-in user's edits of record (`kind`, `id`) that change `field` and
    /// are not sent yet (a clash or a refusal makes them moot), returning the last value they wanted.
    pub fn drop_field(&self, kind: RecordKind, id: i64, field: &str) -> Option<Value> {
        let mut last = None;
        let sending = self.sending.get_untracked();
        // Written only when something goes: forms react to every write of the queue.
        let user = self.user.get_untracked();
        let any = self.entries.with_untracked(|e| {
            e.iter().any(|e| {
                e.kind == kind
                    && e.id == id
                    && Some(e.user) == user
                    && e.changes.contains_key(field)
            })
        });
        if !any {
            return None;
        }
        self.set_entries.update(|entries| {
            let mut first = true;
            entries.retain(|e| {
                let mine = e.kind == kind
                    && e.id == id
                    && Some(e.user) == user
                    && e.changes.contains_key(field);
                // The first edit of the queue may be on the wire: it stays.
                let keep = !mine || (first && sending && e.conflict.is_none());
                first = false;
                if !keep {
                    last = e.changes.get(field).map(|c| c.value.clone());
                }
                keep
            });
        });
        last
    }

    /// Takes the signed-in user's clashes parked for record (`kind`, `id`) while no form of
    /// it was open.
    pub fn take_parked(&self, kind: RecordKind, id: i64) -> Vec<QueuedEdit> {
        let mut parked = Vec::new();
        // Written only when something is parked: the form calls this from an effect that
        // follows the queue, and a write of it would run that effect again, forever.
        let user = self.user.get_untracked();
        let here = |e: &QueuedEdit| {
            e.kind == kind && e.id == id && Some(e.user) == user && e.conflict.is_some()
        };
        let any = self.entries.with_untracked(|e| e.iter().any(here));
        if !any {
            return parked;
        }
        self.set_entries.update(|entries| {
            entries.retain(|e| {
                let is = here(e);
                if is {
                    parked.push(e.clone());
                }
                !is
            });
        });
        parked
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
            let next = self.entries.with_untracked(|e| {
                e.iter()
                    .find(|e| e.conflict.is_none() && e.user == user)
                    .cloned()
            });
            let Some(edit) = next else { break };
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
            let outcome = match answer {
                Err(AppError::Request(_)) => {
                    // The network: keep it, try again later.
                    #[cfg(feature = "hydrate")]
                    {
                        let retry = self.retry;
                        set_timeout(
                            move || retry.update(|n| *n += 1),
                            std::time::Duration::from_secs(3),
                        );
                    }
                    break;
                }
                Ok(r) => Outcome::Applied(r),
                Err(AppError::Conflict(c)) => Outcome::Conflict(*c),
                Err(e) => Outcome::Failed(e),
            };
            let heard = self.deliver(&edit, &outcome);
            self.set_entries.update(|entries| match (&outcome, heard) {
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
    use codee::string::JsonSerdeCodec;
    use leptos_use::storage::{use_storage_with_options, StorageType, UseStorageOptions};
    // Read after hydration, so the server's HTML (which knows no queue) hydrates as is.
    let options = UseStorageOptions::default().delay_during_hydration(true);
    let (entries, set_entries, _) = use_storage_with_options::<Vec<QueuedEdit>, JsonSerdeCodec>(
        StorageType::Local,
        STORAGE_KEY,
        options,
    );
    let queue = EditQueue {
        entries,
        set_entries,
        listeners: StoredValue::new(Vec::new()),
        next_listener: StoredValue::new(0),
        sending: RwSignal::new(false),
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
                leptos::task::spawn_local(queue.drain(me));
            }
        });
    }
    children()
}
