//! The form that creates or edits a record of any kind, built from the kind's field
//! definitions: one labelled control per field, read-only for viewers, saving only the
//! fields that changed (each with the value it started from, for the server's three-way
//! merge), and showing a conflict when someone else changed the same field.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::records::{create_record, update_record, FormChoices};
use crate::components::{error_message, Ready};
use crate::error::{AppError, EditConflict};
use crate::model::{FieldChange, FieldDef, FieldKind, Fields, Record, RecordKind, Value};

pub(crate) mod controls;
pub(crate) mod mentions;

use controls::FieldControl;

/// A change someone made to the record being edited, as it arrived live.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteUpdate {
    /// The record as it is now.
    pub record: Record,
    /// Who changed it, for "changed by".
    pub by: String,
    /// Whether it was this user's own change (from any tab).
    pub mine: bool,
}

/// What a save sends.
#[derive(Clone)]
enum Save {
    Create(Fields),
    Update(i64, BTreeMap<String, FieldChange>),
}

/// One field's control and its text.
#[derive(Clone, Copy)]
struct Input {
    def: &'static FieldDef,
    text: RwSignal<String>,
}

/// Creates (`record` is `None`) or edits a record of `kind` in workspace `slug`.
/// Calls `on_saved` with the stored record after each successful save.
#[component]
pub fn RecordForm(
    /// Workspace slug.
    slug: String,
    /// Kind of record.
    kind: RecordKind,
    /// The record to edit; `None` to create one.
    record: Option<Record>,
    /// Options of the reference and member pickers.
    choices: FormChoices,
    /// Whether the viewer may change it (false for viewers: every control is read-only).
    can_write: bool,
    /// Called with the stored record after a save.
    on_saved: Callback<Record>,
    /// Changes others make while the form is open: fields the user has not touched take
    /// the new value (and flash "changed by"); fields being edited keep what the user
    /// typed and their old base, so saving them reports the conflict.
    #[prop(optional, into)]
    remote: Option<Signal<Option<RemoteUpdate>>>,
) -> impl IntoView {
    let base = RwSignal::new(record);
    let inputs: Vec<Input> = kind
        .fields()
        .iter()
        .map(|def| Input {
            def,
            text: RwSignal::new(base.with_untracked(|r| {
                r.as_ref()
                    .map(|r| def.format_input(r.get(def.name)))
                    .unwrap_or_default()
            })),
        })
        .collect();
    let inputs = StoredValue::new(inputs);

    let changed_by = RwSignal::new(BTreeMap::<&'static str, String>::new());
    if let Some(remote) = remote {
        Effect::new(move |_| {
            let Some(update) = remote.get() else { return };
            let Some(old) = base.get_untracked() else {
                return;
            };
            if update.record.version < old.version {
                return;
            }
            let mut new_base = update.record.clone();
            for i in inputs.get_value() {
                let name = i.def.name;
                let before = old.get(name);
                let now = update.record.get(name);
                let dirty = i.text.get_untracked() != i.def.format_input(before);
                if dirty {
                    new_base.fields.insert(name.to_string(), before.clone());
                } else if now != before {
                    i.text.set(i.def.format_input(now));
                }
                if now != before && !update.mine {
                    changed_by.update(|m| {
                        m.insert(name, update.by.clone());
                    });
                }
            }
            base.set(Some(new_base));
        });
    }
    // The field being edited, announced in presence.
    let editing = use_context::<crate::pages::workspace::EditingField>().map(|e| e.0);
    let room = base.with_untracked(|r| {
        r.as_ref()
            .map(|r| crate::realtime::protocol::Room::Record(r.kind, r.id))
    });
    let focus = move |field: Option<String>| {
        if let (Some(editing), Some(record)) = (editing, room) {
            editing.set(field.map(|field| crate::realtime::protocol::Editing { record, field }));
        }
    };
    let conflict = RwSignal::new(None::<EditConflict>);
    let save_slug = slug.clone();
    let save = Action::new(move |req: &Save| {
        let (slug, req) = (save_slug.clone(), req.clone());
        async move {
            match req {
                Save::Create(fields) => create_record(slug, kind, fields).await,
                Save::Update(id, changes) => {
                    update_record(slug, kind, id, changes, None, None).await
                }
            }
        }
    });
    let saved_note = RwSignal::new(false);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(r)) => {
            for i in inputs.get_value() {
                i.text.set(i.def.format_input(r.get(i.def.name)));
            }
            base.set(Some(r.clone()));
            conflict.set(None);
            changed_by.set(BTreeMap::new());
            saved_note.set(true);
            on_saved.run(r);
        }
        Some(Err(AppError::Conflict(c))) => conflict.set(Some(*c)),
        _ => {}
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved_note.set(false);
        let current = base.get_untracked();
        let inputs = inputs.get_value();
        match current {
            None => {
                let fields = inputs
                    .iter()
                    .map(|i| (i.def.name.to_string(), Value::Text(i.text.get_untracked())))
                    .collect();
                save.dispatch(Save::Create(fields));
            }
            Some(r) => {
                let changes: BTreeMap<String, FieldChange> = inputs
                    .iter()
                    .filter(|i| i.text.get_untracked() != i.def.format_input(r.get(i.def.name)))
                    .map(|i| {
                        let change = FieldChange {
                            base: r.get(i.def.name).clone(),
                            value: Value::Text(i.text.get_untracked()),
                        };
                        (i.def.name.to_string(), change)
                    })
                    .collect();
                save.dispatch(Save::Update(r.id, changes));
            }
        }
    };

    // Conflict resolution: take their values, or keep mine and save again on top of theirs.
    let take_theirs = move |_| {
        if let Some(c) = conflict.get_untracked() {
            for i in inputs.get_value() {
                i.text.set(i.def.format_input(c.current.get(i.def.name)));
            }
            base.set(Some(c.current));
            conflict.set(None);
        }
    };
    let keep_mine = move |_| {
        if let Some(c) = conflict.get_untracked() {
            base.set(Some(c.current));
            conflict.set(None);
        }
    };

    let field_error = move |name: &'static str| {
        move || match save.value().get() {
            Some(Err(AppError::Validation { field, message })) if field == name => Some(message),
            _ => None,
        }
    };
    let form_id = format!("{}-form", kind.noun());
    let controls = inputs
        .get_value()
        .into_iter()
        .map(|i| {
            let id = format!("{}-{}", kind.noun(), i.def.name);
            let error_id = format!("{id}-error");
            let label = if i.def.required { format!("{} (required)", i.def.caption) } else { i.def.caption.to_string() };
            let control = view! {
                <FieldControl def=i.def id=id.clone() text=i.text locked=!can_write choices=choices.clone() described_by=error_id.clone()
                    slug=slug.clone() title=Signal::derive(move || base.with(|r| r.as_ref().and_then(|r| r.titles.get(i.def.name).cloned())))/>
            };
            let wide = matches!(i.def.kind, FieldKind::LongText);
            view! {
                <div class="field" class:wide=wide>
                    <label for=id>{label}</label>
                    {control}
                    <span class="field-error" id=error_id>{field_error(i.def.name)}</span>
                    {move || changed_by.with(|m| m.get(i.def.name).cloned()).map(|by| view! {
                        <span class="changed-by" role="status">{format!("Changed by {by}")}</span>
                    })}
                </div>
            }
        })
        .collect_view();

    let is_new = base.with_untracked(Option::is_none);
    view! {
        <form id=form_id class="record-form" on:submit=submit novalidate
            on:focusin=move |ev| focus(event_target_name(&ev))
            on:focusout=move |_| focus(None)><Ready>
            <div class="fields">{controls}</div>
            {move || conflict.get().map(|c| {
                let rows = c.fields.iter().map(|f| {
                    let def = kind.field(&f.field);
                    let label = def.map(|d| d.caption).unwrap_or("?");
                    let show = |v: &Value| def.map(|d| d.format_input(v)).unwrap_or_default();
                    view! { <li><strong>{label}</strong>": yours "<q>{show(&f.mine)}</q>", theirs "<q>{show(&f.theirs)}</q></li> }
                }).collect_view();
                view! {
                    <div class="conflict" role="alert">
                        <p>{c.message.clone()}</p>
                        <ul>{rows}</ul>
                        <button type="button" on:click=take_theirs>"Take their values"</button>
                        <button type="button" on:click=keep_mine>"Keep mine and save again"</button>
                    </div>
                }
            })}
            {move || match save.value().get() {
                Some(Err(AppError::Conflict(_))) | Some(Ok(_)) | None => None,
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{error_message(&e)}</p> }),
            }}
            <Show when=move || can_write>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>
                        {if is_new { format!("Create {}", kind.noun()) } else { "Save".to_string() }}
                    </button>
                    <span class="saved" role="status">{move || saved_note.get().then_some("Saved")}</span>
                </div>
            </Show>
        </Ready></form>
    }
}

/// The `name` of the form control an event came from, if it is a field.
fn event_target_name(ev: &leptos::ev::FocusEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.get_attribute("name"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}
