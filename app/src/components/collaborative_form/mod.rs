//! Editing a record together (DESIGN.md, "CollaborativeForm"): each field shows who else
//! is in it and typing, a field a colleague is editing is held by them (with take-over),
//! a colleague's change flashes with their name, and every change is saved by itself on
//! blur or after a pause, optimistically, through the tab's [`EditQueue`] (so it survives
//! going offline and a reload), with undo and redo of one's own changes and the
//! [`ConflictResolutionModal`] when a save clashes.

mod conflict_modal;

pub use conflict_modal::{ConflictResolutionModal, Resolution};

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;

use crate::api::records::FormChoices;
use crate::components::edit_queue::{new_key, use_edit_queue, EditQueue, Outcome, QueuedEdit};
use crate::components::record_form::controls::FieldControl;
use crate::components::record_form::RemoteUpdate;
use crate::components::{error_message, Ready};
use crate::error::EditConflict;
use crate::model::{initials, FieldChange, FieldDef, FieldKind, Record, RecordKind, Value};
use crate::realtime::protocol::{Editing, PresenceEntry, Room};
use crate::realtime::{use_realtime, ConnectionStatus, RoomEvent};

/// How long a field waits after the last keystroke before saving, milliseconds.
pub const SAVE_AFTER_MS: u64 = 800;
/// How long "typing" shows after a colleague's last keystroke, milliseconds.
pub const TYPING_SHOWN_MS: i64 = 3_000;
/// How often this tab tells the room it is typing, at most, milliseconds.
const TYPING_EVERY_MS: i64 = 1_000;
/// How long "changed by" shows after a colleague's change, milliseconds.
const FLASH_MS: u64 = 4_000;

/// One change of one's own, for undo and redo: a field went from `before` to `after`.
#[derive(Clone, Debug, PartialEq)]
struct Step {
    field: &'static str,
    before: Value,
    after: Value,
}

/// A field's control and its state in this form.
#[derive(Clone, Copy)]
struct Input {
    def: &'static FieldDef,
    /// What the control shows (typed, pending or stored).
    text: RwSignal<String>,
    /// Why its last save was refused.
    error: RwSignal<Option<String>>,
    /// "Changed by" a colleague, shown for a while.
    changed_by: RwSignal<Option<String>>,
    /// A note about the field (someone took it over).
    note: RwSignal<Option<String>>,
}

/// Edits record `entity_id` of kind `entity_type` with others at once. `record` is the
/// record as stored, shared with the page (the form updates it with its own saves and
/// reads colleagues' changes from it); `remote` says who made each change that arrives.
/// `on_conflict` hears every clash (the form also opens the modal for it).
#[component]
pub fn CollaborativeForm(
    /// The form element's id.
    form_id: String,
    /// Kind of record.
    entity_type: RecordKind,
    /// The record's id.
    entity_id: i64,
    /// Workspace slug.
    slug: String,
    /// The record as stored (version and values), kept by the page.
    record: RwSignal<Option<Record>>,
    /// Who made the changes that arrive live (see [`RemoteUpdate`]).
    remote: Signal<Option<RemoteUpdate>>,
    /// Options of the member pickers.
    choices: FormChoices,
    /// Whether the viewer may change it (false: read-only controls, no buttons).
    can_write: bool,
    /// Told about every clash, after the modal opens for it.
    #[prop(optional)]
    on_conflict: Option<Callback<EditConflict>>,
) -> impl IntoView {
    let kind = entity_type;
    let slug_s = StoredValue::new(slug.clone());
    let form_s = StoredValue::new(form_id.clone());
    let room = Room::Record(kind, entity_id);
    let queue = use_edit_queue();
    let rt = use_realtime();
    // Who this is: known from the page (also offline, after a reload), else the socket.
    let page_user = use_context::<crate::api::workspaces::WorkspaceView>().map(|w| w.user.id);
    let me = Signal::derive(move || page_user.or_else(|| rt.and_then(|r| r.me().get())));
    // Per field being edited: the value it had when editing began (the merge base of
    // what is typed, however the record changes meanwhile).
    let started = StoredValue::new(BTreeMap::<&'static str, Value>::new());
    let presence = Signal::derive(move || rt.map(|r| r.presence(room).get()).unwrap_or_default());
    let online =
        Signal::derive(move || rt.is_none_or(|r| r.status().get() == ConnectionStatus::Connected));

    let stored = move |name: &str| {
        record.with_untracked(|r| r.as_ref().map(|r| r.get(name).clone()).unwrap_or_default())
    };
    // This user's queued edits of this record, oldest first (`queued` follows the queue,
    // `queued_now` reads it once).
    let mine_here = move |e: &QueuedEdit| {
        e.kind == kind && e.id == entity_id && Some(e.user) == me.get_untracked()
    };
    let queued_now = move || -> Vec<QueuedEdit> {
        queue
            .map(|q| {
                q.entries()
                    .with_untracked(|e| e.iter().filter(|e| mine_here(e)).cloned().collect())
            })
            .unwrap_or_default()
    };
    let queued = move || {
        if let Some(q) = queue {
            q.entries().track();
        }
        queued_now()
    };
    // The value a field will have once the queue is through: the last queued value, or
    // the stored one. A new edit of the field starts from it (its merge base).
    let expected = move |name: &str| -> Value {
        let q = queue
            .map(|q| q.entries().get_untracked())
            .unwrap_or_default();
        q.iter()
            .rev()
            .filter(|e| {
                e.kind == kind
                    && e.id == entity_id
                    && e.conflict.is_none()
                    && Some(e.user) == me.get_untracked()
            })
            .find_map(|e| e.changes.get(name).map(|c| c.value.clone()))
            .unwrap_or_else(|| stored(name))
    };

    let inputs: Vec<Input> = kind
        .fields()
        .iter()
        .map(|def| Input {
            def,
            text: RwSignal::new(def.format_input(&stored(def.name))),
            error: RwSignal::new(None),
            changed_by: RwSignal::new(None),
            note: RwSignal::new(None),
        })
        .collect();
    let inputs = StoredValue::new(inputs);
    let input =
        move |name: &str| inputs.with_value(|i| i.iter().find(|i| i.def.name == name).copied());

    let focused = RwSignal::new(None::<&'static str>);
    let taken = RwSignal::new(BTreeSet::<&'static str>::new());
    let typing = RwSignal::new(BTreeMap::<String, (i64, i64)>::new());
    let undo = RwSignal::new(Vec::<Step>::new());
    let redo = RwSignal::new(Vec::<Step>::new());
    let conflict = RwSignal::new(None::<EditConflict>);
    let modal_open = RwSignal::new(false);
    let timers = StoredValue::new(BTreeMap::<&'static str, TimeoutHandle>::new());

    // Once the queue has been read from storage (after hydration), the fields show what
    // is waiting to be sent; clashes parked while no form was open are asked about now.
    if let Some(q) = queue {
        Effect::new(move |_| {
            q.entries().track();
            for i in inputs.get_value() {
                let dirty = focused.get_untracked() == Some(i.def.name);
                let want = i.def.format_input(&expected(i.def.name));
                if !dirty
                    && i.text.get_untracked() != want
                    && queued().iter().any(|e| e.changes.contains_key(i.def.name))
                {
                    i.text.set(want);
                }
            }
        });
    }

    // Sends the field's text if it differs from what the field will be: one queued,
    // merge-checked update of that field alone.
    let commit = move |name: &'static str| {
        let (Some(q), Some(i)) = (queue, input(name)) else {
            return;
        };
        if let Some(h) = timers.try_update_value(|t| t.remove(name)).flatten() {
            h.clear();
        }
        let before = started
            .with_value(|s| s.get(name).cloned())
            .unwrap_or_else(|| expected(name));
        let text = i.text.get_untracked();
        if text == i.def.format_input(&before) {
            return;
        }
        let after = Value::Text(text);
        // Typing on in the field goes on from what was just saved.
        if focused.get_untracked() == Some(name) {
            started.update_value(|s| {
                s.insert(name, after.clone());
            });
        }
        enqueue(
            q,
            me.get_untracked(),
            &slug_s.get_value(),
            kind,
            entity_id,
            name,
            before.clone(),
            after.clone(),
        );
        i.error.set(None);
        undo.update(|u| {
            u.push(Step {
                field: name,
                before,
                after,
            })
        });
        redo.set(Vec::new());
    };
    let schedule = move |name: &'static str| {
        let handle = set_timeout_with_handle(
            move || commit(name),
            std::time::Duration::from_millis(SAVE_AFTER_MS),
        )
        .ok();
        if let Some(old) = timers
            .try_update_value(|t| match handle {
                Some(h) => t.insert(name, h),
                None => t.remove(name),
            })
            .flatten()
        {
            old.clear();
        }
    };

    // Undo and redo: each is a normal queued, merge-checked update of one field.
    let step_back = move |from: RwSignal<Vec<Step>>, to: RwSignal<Vec<Step>>| {
        let (Some(q), Some(step)) = (queue, from.try_update(Vec::pop).flatten()) else {
            return;
        };
        if let Some(i) = input(step.field) {
            i.text.set(i.def.format_input(&step.before));
            i.error.set(None);
        }
        // In the field, typing on starts from the value put back.
        if focused.get_untracked() == Some(step.field) {
            started.update_value(|s| {
                s.insert(step.field, step.before.clone());
            });
        }
        enqueue(
            q,
            me.get_untracked(),
            &slug_s.get_value(),
            kind,
            entity_id,
            step.field,
            step.after.clone(),
            step.before.clone(),
        );
        to.update(|t| {
            t.push(Step {
                field: step.field,
                before: step.after,
                after: step.before,
            })
        });
    };

    // A clash (answered now, or parked while no form of the record was open): later
    // edits of its fields fold into "mine", the edit's other fields are sent again on
    // their own, and the dialog opens (or grows).
    let clash = move |q: EditQueue, edit: &QueuedEdit, c: &EditConflict| {
        // Later edits of the clashing fields are folded into "mine".
        let mut c = c.clone();
        for f in &mut c.fields {
            if let Some(v) = q.drop_field(kind, entity_id, &f.field) {
                f.mine = v;
            }
        }
        // Fields of the edit that did not clash are sent again on their own.
        let clashing: BTreeSet<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
        let rest: BTreeMap<String, FieldChange> = edit
            .changes
            .iter()
            .filter(|(k, _)| !clashing.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            q.push(QueuedEdit {
                key: new_key(),
                changes: rest,
                overwrite: Vec::new(),
                conflict: None,
                ..edit.clone()
            });
        }
        let newer =
            record.with_untracked(|r| r.as_ref().is_none_or(|r| c.current.version > r.version));
        if newer {
            record.set(Some(c.current.clone()));
        }
        // A clash while another is open adds its fields to it.
        conflict.update(|open| match open {
            Some(o) => {
                o.fields.retain(|f| !clashing.contains(f.field.as_str()));
                o.fields.extend(c.fields.iter().cloned());
                if c.current.version > o.current.version {
                    o.current = c.current.clone();
                }
                // "Theirs" is what is stored now, for every field of the dialog.
                for f in &mut o.fields {
                    f.theirs = o.current.get(&f.field).clone();
                }
            }
            None => *open = Some(c.clone()),
        });
        modal_open.set(true);
        if let Some(cb) = on_conflict {
            cb.run(c);
        }
    };

    // Clashes parked while no form of the record was open are asked about now, each
    // through the same path as one answered now.
    if let Some(q) = queue {
        Effect::new(move |_| {
            q.entries().track();
            for parked in q.take_parked(kind, entity_id) {
                if let Some(c) = &parked.conflict {
                    clash(q, &parked, c);
                }
            }
        });
    }

    // Outcomes of this record's queued edits.
    if let Some(q) = queue {
        q.on_outcome(kind, entity_id, move |edit, outcome| match outcome {
            Outcome::Applied(r) => {
                let newer =
                    record.with_untracked(|c| c.as_ref().is_none_or(|c| r.version > c.version));
                if newer {
                    record.set(Some(r.clone()));
                }
                for (name, change) in &edit.changes {
                    let Some(i) = input(name) else { continue };
                    // Show the stored form of what was typed ("won" -> "Won") unless more
                    // is typed or queued since.
                    let later = q.entries().with_untracked(|e| {
                        e.iter().any(|o| {
                            o.key != edit.key
                                && o.kind == kind
                                && o.id == entity_id
                                && o.changes.contains_key(name)
                        })
                    });
                    if !later
                        && focused.get_untracked() != Some(i.def.name)
                        && Value::Text(i.text.get_untracked()) == change.value
                    {
                        i.text.set(i.def.format_input(r.get(name)));
                    }
                }
            }
            Outcome::Conflict(c) => clash(q, edit, c),
            Outcome::Failed(e) => {
                // Roll back to what is stored and say why beside each field.
                for name in edit.changes.keys() {
                    q.drop_field(kind, entity_id, name);
                    if let Some(i) = input(name) {
                        i.text.set(i.def.format_input(&stored(name)));
                        i.error.set(Some(error_message(e)));
                        // Typing on starts from what is stored, not the refused value.
                        if focused.get_untracked() == Some(i.def.name) {
                            started.update_value(|s| {
                                s.insert(i.def.name, stored(name));
                            });
                        }
                    }
                }
            }
        });
    }

    // Colleagues' changes: fields without changes of one's own take them and flash (the
    // field one is in, too, while nothing is typed in it: its merge base moves along); a
    // field with typing or queued edits keeps them (their save merges).
    Effect::new(move |_| {
        let Some(update) = remote.get() else { return };
        // One's own save may have moved the record past this change meanwhile.
        if record.with_untracked(|r| {
            r.as_ref()
                .is_some_and(|r| r.version > update.record.version)
        }) {
            return;
        }
        for i in inputs.get_value() {
            let name = i.def.name;
            let now = update.record.get(name);
            let shown = i.text.get_untracked();
            if shown == i.def.format_input(now)
                || queued_now().iter().any(|e| e.changes.contains_key(name))
            {
                continue;
            }
            if focused.get_untracked() == Some(name) {
                let typed = started
                    .with_value(|s| s.get(name).map(|b| shown != i.def.format_input(b)))
                    .unwrap_or(false);
                if typed {
                    continue;
                }
                started.update_value(|s| {
                    s.insert(name, now.clone());
                });
            }
            i.text.set(i.def.format_input(now));
            if !update.mine {
                i.changed_by.set(Some(update.by.clone()));
                set_timeout(
                    move || i.changed_by.set(None),
                    std::time::Duration::from_millis(FLASH_MS),
                );
            }
        }
    });

    // Typing and take-overs in the record's room.
    if let Some(rt) = rt {
        rt.listen(room, move |ev| match ev {
            RoomEvent::Typing {
                user_id,
                field: Some(field),
            } if Some(user_id) != me.get_untracked() => {
                typing.update(|t| {
                    t.insert(field, (user_id, crate::model::now_ms()));
                });
            }
            RoomEvent::TakenOver { user_id, field } if Some(user_id) != me.get_untracked() => {
                let Some(i) = input(&field) else { return };
                if focused.get_untracked() == Some(i.def.name) {
                    // Keep what was typed: save it now, through the merge like any other.
                    commit(i.def.name);
                    blur_active();
                }
                let who = presence
                    .get_untracked()
                    .into_iter()
                    .find(|p| p.user_id == user_id)
                    .map(|p| p.name)
                    .unwrap_or_else(|| "A colleague".into());
                i.note
                    .set(Some(format!("{who} took over {}", i.def.caption)));
            }
            _ => {}
        });
        let _ = leptos_use::use_interval_fn(
            move || {
                let now = crate::model::now_ms();
                if typing.with_untracked(|t| t.values().any(|(_, at)| now - at > TYPING_SHOWN_MS)) {
                    typing.update(|t| t.retain(|_, (_, at)| now - *at <= TYPING_SHOWN_MS));
                }
            },
            1_000,
        );
    }
    let editing = use_context::<crate::pages::workspace::EditingField>().map(|e| e.0);
    let last_typing = StoredValue::new(0i64);

    let field_views = inputs
        .get_value()
        .into_iter()
        .map(|i| {
            let name = i.def.name;
            let id = format!("{form_id}-{name}");
            let status_id = format!("{id}-status");
            let label = if i.def.required { format!("{} (required)", i.def.caption) } else { i.def.caption.to_string() };
            // Colleagues in this field (presence `editing`).
            let holders = Memo::new(move |_| {
                let mine = me.get();
                presence
                    .get()
                    .into_iter()
                    .filter(|p| Some(p.user_id) != mine && p.editing.as_ref().is_some_and(|e| e.record == room && e.field == name))
                    .collect::<Vec<PresenceEntry>>()
            });
            let held = Memo::new(move |_| {
                can_write && !holders.with(Vec::is_empty) && !taken.with(|t| t.contains(name)) && focused.get() != Some(name)
            });
            let locked = Signal::derive(move || !can_write || held.get());
            let pending = Memo::new(move |_| queued().iter().any(|e| e.conflict.is_none() && e.changes.contains_key(name)));
            let typing_now = move || {
                typing.with(|t| t.get(name).map(|(u, _)| *u)).map(|u| {
                    let who = presence.get().into_iter().find(|p| p.user_id == u).map(|p| p.name).unwrap_or_else(|| "A colleague".into());
                    format!("{who} is typing…")
                })
            };
            let take_over = move |_| {
                taken.update(|t| {
                    t.insert(name);
                });
                if let Some(rt) = rt {
                    rt.take_over(room, name.to_string());
                }
                focus_element(&format!("{}-{name}", form_s.get_value()));
            };
            // Entering the field: its merge base is taken and the room told. A held field
            // can be read (and its text copied) but is entered only by taking it over; one
            // that was held when focused is entered at the first keystroke once free.
            let enter = move || {
                if held.get_untracked() || focused.get_untracked() == Some(name) {
                    return;
                }
                focused.set(Some(name));
                if started.with_value(|s| !s.contains_key(name)) {
                    let base = expected(name);
                    started.update_value(|s| {
                        s.insert(name, base);
                    });
                }
                if let Some(e) = editing {
                    e.set(Some(Editing { record: room, field: name.to_string() }));
                }
            };
            let holder_names = move || holders.get().into_iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
            let control = view! {
                <FieldControl def=i.def id=id.clone() text=i.text locked choices=choices.clone() described_by=status_id.clone()
                    slug=slug.clone() title=Signal::derive(move || record.with(|r| r.as_ref().and_then(|r| r.titles.get(name).cloned())))/>
            };
            let wide = matches!(i.def.kind, FieldKind::LongText);
            view! {
                <div class="field" class:wide=wide class:held=held class:pending=pending
                    class:flash=move || i.changed_by.with(Option::is_some)
                    on:input=move |_| {
                        enter();
                        if let Some(rt) = rt {
                            let now = crate::model::now_ms();
                            if now - last_typing.get_value() > TYPING_EVERY_MS {
                                last_typing.set_value(now);
                                rt.typing(room, Some(name.to_string()));
                            }
                        }
                        schedule(name);
                    }
                    on:change=move |_| {
                        // Pickers, selects and checkboxes are done when they change.
                        if !matches!(i.def.kind, FieldKind::Text { .. } | FieldKind::LongText | FieldKind::Integer { .. } | FieldKind::Decimal | FieldKind::Money | FieldKind::Tags | FieldKind::Duration) {
                            commit(name);
                        }
                    }>
                    <label for=id.clone()>{label}</label>
                    <span class="field-people">
                        {move || holders.get().into_iter().map(|p| view! {
                            <span class="avatar ring" style=format!("border-color:{0};background:{0}", p.color) role="img"
                                aria-label=format!("{} is editing this field", p.name) title=p.name.clone()>{initials(&p.name)}</span>
                        }).collect_view()}
                    </span>
                    // Focus is followed on the control alone: the take-over button beside it
                    // must not count as being in the field (it would stop being held, and
                    // the button vanish, on the press that was to take it over).
                    <div class="field-control"
                        on:focusin=move |_| enter()
                        on:focusout=move |_| {
                            if focused.get_untracked() != Some(name) {
                                return;
                            }
                            focused.set(None);
                            taken.update(|t| { t.remove(name); });
                            if let Some(e) = editing {
                                e.set(None);
                            }
                            commit(name);
                            started.update_value(|s| { s.remove(name); });
                        }>
                        {control}
                    </div>
                    <span class="field-status" id=status_id aria-live="polite">
                        {move || held.get().then(|| view! {
                            <span class="held">{format!("Held by {}", holder_names())}</span>
                            " "
                            <button type="button" class="link" on:click=take_over
                                aria-label=format!("Take over from {}", holder_names())>"Take over"</button>
                        })}
                        {move || typing_now().map(|t| view! { <span class="typing">{t}</span> })}
                        {move || pending.get().then(|| if online.get() { "Saving…" } else { "Pending: will sync when online" })}
                        {move || i.changed_by.get().map(|by| view! { <span class="changed-by">{format!("Changed by {by}")}</span> })}
                        {move || i.note.get().map(|n| view! { <span class="note">{n}</span> })}
                        {move || i.error.get().map(|e| view! { <span class="field-error" role="alert">{e}</span> })}
                    </span>
                </div>
            }
        })
        .collect_view();

    // Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) while the focus is in the form or on nothing (a
    // button that has just been disabled, such as Redo at the end of its list, drops it).
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        if !(ev.ctrl_key() || ev.meta_key()) || !can_write {
            return;
        }
        let Some(form) = form_ref.get_untracked() else {
            return;
        };
        let doc = document();
        let here = match doc.active_element() {
            None => true,
            Some(a) => {
                doc.body().is_some_and(|b| a.is_same_node(Some(b.as_ref())))
                    || form.contains(Some(a.as_ref()))
            }
        };
        if !here {
            return;
        }
        let key = ev.key().to_ascii_lowercase();
        // Inside a field with unsaved typing, the control's own undo runs.
        let dirty = focused
            .get_untracked()
            .and_then(input)
            .is_some_and(|i| i.text.get_untracked() != i.def.format_input(&expected(i.def.name)));
        if dirty {
            return;
        }
        if key == "z" && !ev.shift_key() {
            ev.prevent_default();
            step_back(undo, redo);
        } else if (key == "z" && ev.shift_key()) || key == "y" {
            ev.prevent_default();
            step_back(redo, undo);
        }
    };
    let shortcuts = window_event_listener(leptos::ev::keydown, keydown);
    on_cleanup(move || shortcuts.remove());
    let save_all = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        for i in inputs.get_value() {
            commit(i.def.name);
        }
    };
    let resolve = Callback::new(move |chosen: Vec<Resolution>| {
        modal_open.set(false);
        let Some(c) = conflict.get_untracked() else {
            return;
        };
        conflict.set(None);
        let Some(q) = queue else { return };
        let mut changes = BTreeMap::new();
        let mut overwrite = Vec::new();
        for r in chosen {
            let Some(f) = c.fields.iter().find(|f| f.field == r.field) else {
                continue;
            };
            if let Some(i) = input(&r.field) {
                i.text.set(i.def.format_input(&r.value));
            }
            if r.value != f.theirs {
                changes.insert(
                    r.field.clone(),
                    FieldChange {
                        base: f.theirs.clone(),
                        value: r.value,
                    },
                );
                if r.overwrite {
                    overwrite.push(r.field);
                }
            }
        }
        if let (false, Some(user)) = (changes.is_empty(), me.get_untracked()) {
            q.push(QueuedEdit {
                key: new_key(),
                user,
                slug: slug_s.get_value(),
                kind,
                id: entity_id,
                changes,
                overwrite,
                conflict: None,
            });
        }
    });
    let cancel = Callback::new(move |_: ()| modal_open.set(false));
    let local = Signal::derive(move || {
        conflict.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.fields
                        .iter()
                        .map(|f| (f.field.clone(), f.mine.clone()))
                        .collect()
                })
                .unwrap_or_default()
        })
    });
    let base = Signal::derive(move || {
        conflict.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.fields
                        .iter()
                        .map(|f| (f.field.clone(), f.base.clone()))
                        .collect()
                })
                .unwrap_or_default()
        })
    });
    let remote_record =
        Signal::derive(move || conflict.with(|c| c.as_ref().map(|c| c.current.clone())));
    let conflicted = Signal::derive(move || {
        conflict.with(|c| c.as_ref().map(|c| c.fields.clone()).unwrap_or_default())
    });

    view! {
        <form id=form_id.clone() class="record-form collaborative" node_ref=form_ref on:submit=save_all novalidate
            aria-label=format!("Edit {}", kind.noun())><Ready>
            <div class="fields">{field_views}</div>
            {move || (conflict.with(Option::is_some) && !modal_open.get()).then(|| view! {
                <div class="conflict" role="alert">
                    <p>"Some of your changes clash with a colleague's and are not saved yet."</p>
                    <button type="button" on:click=move |_| modal_open.set(true)>"Resolve conflict"</button>
                </div>
            })}
            <Show when=move || can_write>
                <div class="actions">
                    <button type="button" on:click=move |_| step_back(undo, redo) disabled=move || undo.with(Vec::is_empty)
                        aria-keyshortcuts="Control+Z">"Undo"</button>
                    <button type="button" on:click=move |_| step_back(redo, undo) disabled=move || redo.with(Vec::is_empty)
                        aria-keyshortcuts="Control+Shift+Z">"Redo"</button>
                    <button type="submit">"Save now"</button>
                    <span class="saved" role="status">{move || {
                        let n = queued().iter().filter(|e| e.conflict.is_none()).count();
                        match (n, online.get()) {
                            (0, _) => "All changes saved".to_string(),
                            (n, true) => format!("Saving {n} change{}…", if n == 1 { "" } else { "s" }),
                            (n, false) => format!("{n} change{} pending until you are back online", if n == 1 { "" } else { "s" }),
                        }
                    }}</span>
                </div>
            </Show>
        </Ready></form>
        <ConflictResolutionModal kind open=Signal::from(modal_open) local remote=remote_record base conflicted_fields=conflicted
            on_resolve=resolve on_cancel=cancel/>
    }
}

/// Queues `user`'s update of one field from `base` to `value` (nothing without a user:
/// the socket has not said who this is yet).
#[allow(clippy::too_many_arguments)]
fn enqueue(
    q: EditQueue,
    user: Option<i64>,
    slug: &str,
    kind: RecordKind,
    id: i64,
    field: &str,
    base: Value,
    value: Value,
) {
    let Some(user) = user else { return };
    q.push(QueuedEdit {
        key: new_key(),
        user,
        slug: slug.to_string(),
        kind,
        id,
        changes: BTreeMap::from([(field.to_string(), FieldChange { base, value })]),
        overwrite: Vec::new(),
        conflict: None,
    });
}

/// Moves the keyboard focus to the element with `id`.
fn focus_element(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(e) = document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = e.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Takes the keyboard focus off whatever has it.
fn blur_active() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(e) = document()
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = e.blur();
        }
    }
}
