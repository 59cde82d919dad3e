//! The dialog that settles a clash field by field (DESIGN.md, "ConflictResolutionModal"):
//! base, mine and theirs (with who and when) side by side; per field keep mine, take
//! theirs or edit a merged value; "overwrite" (last writer wins) only after a
//! confirmation. A native modal `<dialog>`: focus moves into it and stays there, the page
//! behind is inert, Escape cancels.

use leptos::html::Dialog;
use leptos::prelude::*;

use crate::error::FieldConflict;
use crate::model::{format_utc, Fields, Record, RecordKind, Value};

/// What the user chose for one conflicted field.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// The field.
    pub field: String,
    /// The value it should have (theirs when they took theirs).
    pub value: Value,
    /// Write it whatever is stored by then (explicit last writer wins, confirmed).
    pub overwrite: bool,
}

/// Per field: which side.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Mine,
    Theirs,
    Merged,
}

/// One field's choice: the side, the merged text, and whether to overwrite.
type Choice = (RwSignal<Side>, RwSignal<String>, RwSignal<bool>);

/// Opens while `open` is true over the conflicted fields (`conflicted_fields`, with base,
/// mine and theirs; `local` and `base` hold mine and the base by field name, `remote` the
/// record as stored now). `on_resolve` gets one [`Resolution`] per field; `on_cancel` runs
/// on Cancel or Escape.
#[component]
pub fn ConflictResolutionModal(
    /// Kind of the record (for labels and formatting).
    kind: RecordKind,
    /// Whether it is open.
    open: Signal<bool>,
    /// Mine, by field.
    local: Signal<Fields>,
    /// The record as stored now.
    remote: Signal<Option<Record>>,
    /// The base both sides started from, by field.
    base: Signal<Fields>,
    /// The conflicted fields.
    conflicted_fields: Signal<Vec<FieldConflict>>,
    /// Called with the choices.
    on_resolve: Callback<Vec<Resolution>>,
    /// Called when the user closes it without choosing.
    on_cancel: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    // Per conflicted field, in order: the side chosen, the merged text, and "overwrite".
    // Made afresh each time the rows are drawn (a new or grown clash), and read when the
    // user applies; choosing a side changes only its own signals, so the rows (and the
    // focus in them) stay put.
    let choices = StoredValue::new(Vec::<Choice>::new());
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        conflicted_fields.track();
        confirming.set(false);
    });
    Effect::new(move |_| {
        let Some(d) = dialog.get() else { return };
        conflicted_fields.track();
        if open.get() {
            if !d.open() {
                let _ = d.show_modal();
            }
            // The rows are drawn again when a clash adds a field: focus stays inside, on
            // the first choice.
            set_timeout(
                move || {
                    let inside = document()
                        .active_element()
                        .is_some_and(|a| d.contains(Some(&a)));
                    if !inside {
                        if let Ok(Some(first)) = d.query_selector("input") {
                            use wasm_bindgen::JsCast;
                            if let Ok(first) = first.dyn_into::<web_sys::HtmlElement>() {
                                let _ = first.focus();
                            }
                        }
                    }
                },
                std::time::Duration::ZERO,
            );
        } else if d.open() {
            d.close();
        }
    });
    let show = move |name: &str, v: &Value| {
        kind.field(name)
            .map(|d| d.format_display(v, None))
            .unwrap_or_default()
    };
    let chosen = move || -> Vec<Resolution> {
        let fields = conflicted_fields.get_untracked();
        let mine = local.get_untracked();
        choices.with_value(|c| {
            fields
                .iter()
                .zip(c)
                .map(|(f, &(side, text, force))| {
                    let side = side.get_untracked();
                    let value = match side {
                        Side::Mine => mine
                            .get(&f.field)
                            .cloned()
                            .unwrap_or_else(|| f.mine.clone()),
                        Side::Theirs => f.theirs.clone(),
                        Side::Merged => Value::Text(text.get_untracked()),
                    };
                    Resolution {
                        field: f.field.clone(),
                        value,
                        overwrite: side != Side::Theirs && force.get_untracked(),
                    }
                })
                .collect()
        })
    };
    let apply = move |_| {
        let wants_force = chosen().iter().any(|r| r.overwrite);
        if wants_force && !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        confirming.set(false);
        on_resolve.run(chosen());
    };
    let rows = move || {
        let fields = conflicted_fields.get();
        let mine = local.get();
        let bases = base.get();
        let current = remote.get();
        let made: Vec<Choice> = fields
            .iter()
            .map(|f| {
                let text = kind
                    .field(&f.field)
                    .map(|d| d.format_input(mine.get(&f.field).unwrap_or(&f.mine)))
                    .unwrap_or_default();
                (
                    RwSignal::new(Side::Mine),
                    RwSignal::new(text),
                    RwSignal::new(false),
                )
            })
            .collect();
        choices.set_value(made.clone());
        fields
            .into_iter()
            .zip(made)
            .map(|(f, (side, text, force))| {
                let caption = kind.field(&f.field).map(|d| d.caption).unwrap_or("?");
                let group = format!("conflict-{}", f.field);
                let base_v = bases.get(&f.field).cloned().unwrap_or_else(|| f.base.clone());
                let mine_v = mine.get(&f.field).cloned().unwrap_or_else(|| f.mine.clone());
                let theirs_v = current.as_ref().map(|r| r.get(&f.field).clone()).unwrap_or_else(|| f.theirs.clone());
                let who = format!(
                    "{}{}",
                    f.by_name.clone().unwrap_or_else(|| "A colleague".into()),
                    f.at.map(|at| format!(", {}", format_utc(at))).unwrap_or_default()
                );
                let merged_id = format!("{group}-merged");
                let set = move |s: Side| move |_| side.set(s);
                view! {
                    <fieldset class="conflict-field">
                        <legend>{caption}</legend>
                        <dl class="sides">
                            <div><dt>"Before"</dt><dd>{show(&f.field, &base_v)}</dd></div>
                            <div><dt>"Yours"</dt><dd>{show(&f.field, &mine_v)}</dd></div>
                            <div><dt>{format!("Theirs ({who})")}</dt><dd>{show(&f.field, &theirs_v)}</dd></div>
                        </dl>
                        <label><input type="radio" name=group.clone() checked=true on:change=set(Side::Mine)/>{format!("Keep mine for {caption}")}</label>
                        <label><input type="radio" name=group.clone() on:change=set(Side::Theirs)/>{format!("Take theirs for {caption}")}</label>
                        <label><input type="radio" name=group.clone() on:change=set(Side::Merged)/>{format!("Edit a merged value for {caption}")}</label>
                        <label for=merged_id.clone()>{format!("Merged value for {caption}")}</label>
                        <input id=merged_id type="text" bind:value=text disabled=move || side.get() != Side::Merged/>
                        <label class="overwrite"><input type="checkbox" bind:checked=force/>{format!("Overwrite {caption} even if it changes again (last writer wins)")}</label>
                    </fieldset>
                }
                .into_any()
            })
            .collect_view()
    };
    view! {
        <dialog node_ref=dialog class="conflict-modal" aria-labelledby="conflict-title"
            on:cancel=move |_: leptos::ev::Event| on_cancel.run(())>
            <h2 id="conflict-title">"Your changes clash with a colleague's"</h2>
            <p>"For each field, keep yours, take theirs, or write a value that merges both. Nothing is saved until you apply."</p>
            {rows}
            {move || confirming.get().then(|| view! {
                <p class="warning" role="alert">"Overwriting replaces whatever is stored, even a newer change. Press Overwrite and apply to confirm."</p>
            })}
            <div class="actions">
                <button type="button" class="primary" on:click=apply>
                    {move || if confirming.get() { "Overwrite and apply" } else { "Apply" }}
                </button>
                <button type="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </dialog>
    }
}
