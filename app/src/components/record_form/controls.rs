//! One form control per field kind (a typeahead picker for references), each editing the field's text as
//! [`FieldDef::format_input`] writes it and the server's `normalize` reads it.
//!
//! Values are also rendered as attributes, so the server's HTML shows them before the
//! page hydrates (`bind:value` sets only the property).

use leptos::prelude::*;

use crate::api::records::{list_choices, FormChoices};
use crate::model::record::{member_ids, time};
use crate::model::{Choice, FieldDef, FieldKind, RecordKind};

/// The control for one field: `id` is the control's id (its label points at it),
/// `described_by` the id of its error message.
#[component]
pub(crate) fn FieldControl(
    def: &'static FieldDef,
    id: String,
    text: RwSignal<String>,
    /// Whether the control is read-only now (a viewer, or a field held by a colleague).
    #[prop(into)]
    locked: Signal<bool>,
    choices: FormChoices,
    described_by: String,
    /// Workspace slug, for the reference pickers' typeahead.
    slug: String,
    /// The title of what a reference field points at now.
    title: Signal<Option<String>>,
) -> impl IntoView {
    let initial = text.get_untracked();
    let name = def.name;
    match def.kind {
        FieldKind::LongText => view! {
            <super::mentions::MentionArea id name text locked members=choices.members.clone() described_by/>
        }
        .into_any(),
        FieldKind::Choice(options) => view! {
            <select id=id name=name disabled=locked bind:value=text aria-describedby=described_by>
                <option value="">"—"</option>
                {options.iter().map(|o| view! { <option value=*o selected=initial == *o>{*o}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        FieldKind::Ref(target) => view! {
            <RecordPicker slug id name text kinds=vec![target] tagged=false title caption=def.caption disabled=locked described_by/>
        }
        .into_any(),
        // An option's value says which kind (`deal:12`).
        FieldKind::AnyRef(kinds) => view! {
            <RecordPicker slug id name text kinds=kinds.to_vec() tagged=true title caption=def.caption disabled=locked described_by/>
        }
        .into_any(),
        FieldKind::Member => {
            view! { <MemberSelect id name text disabled=locked members=choices.members.clone() described_by/> }.into_any()
        }
        FieldKind::Members => view! {
            <MemberChecklist id text disabled=locked members=choices.members.clone() caption=def.caption described_by/>
        }
        .into_any(),
        FieldKind::Boolean => view! {
            <input id=id name=name type="checkbox" checked=initial == "true" disabled=locked
                prop:checked=move || text.get() == "true"
                on:change=move |ev| text.set(event_target_checked(&ev).to_string())
                aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::DateTime => view! { <LocalDateTimeInput id name text readonly=locked described_by/> }.into_any(),
        FieldKind::Date => view! {
            <input id=id name=name type="date" value=initial readonly=locked bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::Duration => view! {
            <input id=id name=name type="text" placeholder="1h 30m" value=initial readonly=locked bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::Integer { .. } | FieldKind::Decimal | FieldKind::Money => view! {
            <input id=id name=name type="text" inputmode="decimal" value=initial readonly=locked bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        // Answers are given with the RSVP buttons, each member their own; here they are
        // shown by name ("Ann: accepted").
        FieldKind::Responses => {
            let shown = move || {
                let value = crate::model::Value::Text(text.get());
                def.format_display(&value, title.get().as_deref())
            };
            view! { <output id=id name=name aria-describedby=described_by>{shown}</output> }.into_any()
        }
        FieldKind::Text { .. } | FieldKind::Tags => view! {
            <input id=id name=name type="text" value=initial readonly=locked bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
    }
}

/// A reference picker that looks records up by title as people type: an ARIA combobox
/// with a listbox popup (the WAI-ARIA Authoring Practices' "combobox with list
/// autocomplete"). Arrow keys move through the options, Enter picks one, Escape closes
/// the list and puts back the current title; emptying the text clears the reference.
/// `text` holds the value: the record's id, or `noun:id` when `tagged` (a reference to
/// one of several kinds).
#[component]
#[allow(clippy::too_many_arguments)]
fn RecordPicker(
    slug: String,
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    kinds: Vec<RecordKind>,
    tagged: bool,
    title: Signal<Option<String>>,
    caption: &'static str,
    disabled: Signal<bool>,
    described_by: String,
) -> impl IntoView {
    let shown = RwSignal::new(title.get_untracked().unwrap_or_default());
    // The value and the title that names it: what leaving the field puts back. A value
    // set from elsewhere (a colleague's edit, a conflict taken) takes the title that came
    // with it; a value picked here, the option's.
    let current_value = StoredValue::new((text.get_untracked(), shown.get_untracked()));
    Effect::new(move |_| {
        let value = text.get();
        let known = title.get();
        if current_value.with_value(|(v, _)| *v != value) {
            let named = match (value.is_empty(), known) {
                (true, _) => String::new(),
                (false, Some(t)) => t,
                (false, None) => format!("#{value}"),
            };
            current_value.set_value((value, named.clone()));
            shown.set(named);
        }
    });
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let typed = RwSignal::new(String::new());
    let term: Signal<String> = leptos_use::signal_debounced(typed, 150.0);
    let kinds = StoredValue::new(kinds);
    // (value, text shown) of the records matching what was typed, looked up while open.
    // A signal filled by a task, not a resource: a resource read here would suspend the
    // page's <Suspense> while hydrating, and the server's HTML would no longer match.
    // Each answer is kept with the text it answers: options for older text (the pause
    // before a lookup, or its round trip) are never shown, so Enter cannot pick one.
    let found = RwSignal::new((String::new(), Vec::<(String, String)>::new()));
    // Only the latest lookup's answer is shown (an older one may arrive after it).
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (term, open) = (term.get(), open.get());
        if !open {
            return;
        }
        asked.update_value(|n| *n += 1);
        let this = asked.get_value();
        let slug = slug.clone();
        leptos::task::spawn_local(async move {
            let mut out = Vec::new();
            for kind in kinds.get_value() {
                let matches = list_choices(slug.clone(), kind, term.clone())
                    .await
                    .unwrap_or_default();
                out.extend(matches.into_iter().map(|c| {
                    if tagged {
                        (
                            format!("{}:{}", kind.noun(), c.id),
                            format!("{} ({})", c.title, kind.noun()),
                        )
                    } else {
                        (c.id.to_string(), c.title)
                    }
                }));
            }
            if asked.get_value() == this {
                found.set((term, out));
            }
        });
    });
    // The options for what is typed now; `None` while they are being looked up.
    let answered = move || found.with(|(t, v)| (*t == typed.get()).then(|| v.clone()));
    let current = move || answered().unwrap_or_default();
    let pick = move |(value, title): (String, String)| {
        current_value.set_value((value.clone(), title.clone()));
        text.set(value);
        shown.set(title);
        open.set(false);
        active.set(None);
    };
    let listbox_id = format!("{id}-options");
    let option_id = {
        let id = id.clone();
        move |i: usize| format!("{id}-option-{i}")
    };
    // Leaving the field (or Escape): emptied text clears the reference; anything else
    // typed but not picked gives way to the current value's title.
    let restore = move || {
        if shown.get_untracked().trim().is_empty() {
            current_value.set_value((String::new(), String::new()));
            text.set(String::new());
        } else {
            shown.set(current_value.with_value(|(_, t)| t.clone()));
        }
        open.set(false);
        active.set(None);
    };
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        let n = current().len();
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" if !open.get_untracked() => {
                ev.prevent_default();
                open.set(true);
            }
            "ArrowDown" if n > 0 => {
                ev.prevent_default();
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % n)));
            }
            "ArrowUp" if n > 0 => {
                ev.prevent_default();
                active.update(|a| *a = Some(a.map_or(n - 1, |i| (i + n - 1) % n)));
            }
            "Enter" if open.get_untracked() => {
                ev.prevent_default();
                if let Some(choice) = active
                    .get_untracked()
                    .and_then(|i| current().get(i).cloned())
                {
                    pick(choice);
                }
            }
            "Escape" if open.get_untracked() => {
                ev.prevent_default();
                restore();
            }
            _ => {}
        }
    };
    let active_descendant = {
        let option_id = option_id.clone();
        move || active.get().map(&option_id)
    };
    let list = {
        let option_id = option_id.clone();
        move || {
            let Some(items) = answered() else {
                return view! { <li role="option" aria-disabled="true" aria-selected="false">"Searching…"</li> }.into_any();
            };
            if items.is_empty() {
                return view! { <li role="option" aria-disabled="true" aria-selected="false">"No matches"</li> }.into_any();
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, (value, label))| {
                    let is_active = move || active.get() == Some(i);
                    let chosen = (value.clone(), label.clone());
                    view! {
                        <li id=option_id(i) role="option" aria-selected=move || is_active().to_string()
                            class:active=is_active
                            on:mousedown=move |ev| { ev.prevent_default(); pick(chosen.clone()); }>
                            {label}
                        </li>
                    }
                })
                .collect_view()
                .into_any()
        }
    };
    let initial = shown.get_untracked();
    view! {
        <div class="picker">
            <input id=id name=name type="text" role="combobox" autocomplete="off"
                aria-autocomplete="list" aria-controls=listbox_id.clone()
                aria-expanded=move || open.get().to_string()
                aria-activedescendant=active_descendant
                aria-describedby=described_by
                value=initial prop:value=move || shown.get() readonly=disabled
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    shown.set(v.clone());
                    typed.set(v);
                    active.set(None);
                    open.set(true);
                }
                on:keydown=keydown
                on:blur=move |_| restore()/>
            <ul id=listbox_id role="listbox" aria-label=format!("{caption} options") hidden=move || !open.get()>
                {list}
            </ul>
        </div>
    }
}

/// A select over members, with an empty option to clear it; option values are the ids.
#[component]
fn MemberSelect(
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    disabled: Signal<bool>,
    members: Vec<Choice>,
    described_by: String,
) -> impl IntoView {
    let options = members
        .into_iter()
        .map(|c| {
            let value = c.id.to_string();
            let selected = {
                let value = value.clone();
                move || text.get() == value
            };
            view! { <option value=value selected=selected>{c.title}</option> }
        })
        .collect_view();
    view! {
        <select id=id name=name disabled=disabled bind:value=text aria-describedby=described_by>
            <option value="">"—"</option>
            {options}
        </select>
    }
}

/// A group of checkboxes, one per member, editing a comma-separated list of member ids.
/// The group is named by `caption`; `id` goes on the group so the field's label points
/// at it.
#[component]
fn MemberChecklist(
    id: String,
    text: RwSignal<String>,
    disabled: Signal<bool>,
    members: Vec<Choice>,
    caption: &'static str,
    described_by: String,
) -> impl IntoView {
    let boxes = members
        .into_iter()
        .map(|m| {
            let member = m.id;
            let checked = move || text.with(|t| member_ids(t).contains(&member));
            let initially = checked();
            let toggle = move |ev| {
                let on = event_target_checked(&ev);
                text.update(|t| {
                    let mut ids = member_ids(t);
                    ids.retain(|i| *i != member);
                    if on {
                        ids.push(member);
                    }
                    ids.sort_unstable();
                    *t = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                });
            };
            view! {
                <label class="check">
                    <input type="checkbox" value=member.to_string() checked=initially prop:checked=checked disabled=disabled on:change=toggle/>
                    {m.title}
                </label>
            }
        })
        .collect_view();
    view! {
        <div id=id role="group" aria-label=caption aria-describedby=described_by class="checklist">{boxes}</div>
    }
}

/// A `datetime-local` input in the viewer's time zone, editing an RFC 3339 UTC instant.
/// The server renders the UTC time; the browser shows and reads local time once hydrated.
#[component]
fn LocalDateTimeInput(
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    readonly: Signal<bool>,
    described_by: String,
) -> impl IntoView {
    let utc_naive = |t: &str| {
        time::parse_instant(t)
            .map(|ms| time::format_instant(ms).trim_end_matches('Z').to_string())
            .unwrap_or_default()
    };
    let initial = utc_naive(&text.get_untracked());
    let shown = move || text.with(|t| local_input(t).unwrap_or_else(|| utc_naive(t)));
    let read = move |ev| {
        let v = event_target_value(&ev);
        text.set(if v.is_empty() {
            String::new()
        } else {
            from_local_input(&v).unwrap_or(v)
        });
    };
    view! {
        <input id=id name=name type="datetime-local" value=initial prop:value=shown readonly=readonly
            on:change=read aria-describedby=described_by/>
    }
}

/// An RFC 3339 instant as a `datetime-local` value in the browser's zone; `None` on the
/// server (which does not know the viewer's zone) or when it does not parse.
fn local_input(t: &str) -> Option<String> {
    let (y, mo, d, h, mi) = crate::components::local_parts(time::parse_instant(t)?)?;
    Some(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}"))
}

/// A `datetime-local` value (`2026-11-22T15:05`, the browser's zone) as an RFC 3339 UTC
/// instant; `None` on the server or when it does not parse.
fn from_local_input(v: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let num = |r: std::ops::Range<usize>| v.get(r).and_then(|p| p.parse::<i32>().ok());
        let (y, mo, d, h, mi) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
        );
        let date = js_sys::Date::new_with_year_month_day_hr_min(y as u32, mo - 1, d, h, mi);
        let ms = date.get_time();
        ms.is_finite().then(|| time::format_instant(ms as i64))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = v;
        None
    }
}
