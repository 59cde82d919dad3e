//! One form control per field kind, each editing the field's text as
//! [`FieldDef::format_input`] writes it and the server's `normalize` reads it.
//!
//! Values are also rendered as attributes, so the server's HTML shows them before the
//! page hydrates (`bind:value` sets only the property).

use leptos::prelude::*;

use crate::api::records::FormChoices;
use crate::model::record::{member_ids, time};
use crate::model::{Choice, FieldDef, FieldKind};

/// Options of a select: (value, text shown), in groups with an optional caption.
type OptionGroups = Vec<(Option<&'static str>, Vec<(String, String)>)>;

/// The control for one field: `id` is the control's id (its label points at it),
/// `described_by` the id of its error message.
#[component]
pub(super) fn FieldControl(
    def: &'static FieldDef,
    id: String,
    text: RwSignal<String>,
    can_write: bool,
    choices: FormChoices,
    described_by: String,
) -> impl IntoView {
    let initial = text.get_untracked();
    let name = def.name;
    match def.kind {
        FieldKind::LongText => view! {
            <textarea id=id name=name rows="4" readonly=!can_write bind:value=text aria-describedby=described_by></textarea>
        }
        .into_any(),
        FieldKind::Choice(options) => view! {
            <select id=id name=name disabled=!can_write bind:value=text aria-describedby=described_by>
                <option value="">"—"</option>
                {options.iter().map(|o| view! { <option value=*o selected=initial == *o>{*o}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        FieldKind::Ref(target) => {
            let options = choices.records.get(&target).cloned().unwrap_or_default();
            let groups = vec![(None, options)];
            view! { <ChoiceSelect id name text disabled=!can_write groups described_by/> }.into_any()
        }
        FieldKind::AnyRef(kinds) => {
            // One group per kind; an option's value says which kind (`deal:12`).
            let groups = kinds
                .iter()
                .map(|k| {
                    let options = choices.records.get(k).cloned().unwrap_or_default();
                    let options = options
                        .into_iter()
                        .map(|c| (format!("{}:{}", k.noun(), c.id), c.title))
                        .collect();
                    (Some(k.spec().plural), options)
                })
                .collect();
            view! { <GroupedSelect id name text disabled=!can_write groups described_by/> }.into_any()
        }
        FieldKind::Member => {
            let groups = vec![(None, choices.members.clone())];
            view! { <ChoiceSelect id name text disabled=!can_write groups described_by/> }.into_any()
        }
        FieldKind::Members => view! {
            <MemberChecklist id text disabled=!can_write members=choices.members.clone() caption=def.caption described_by/>
        }
        .into_any(),
        FieldKind::Boolean => view! {
            <input id=id name=name type="checkbox" checked=initial == "true" disabled=!can_write
                prop:checked=move || text.get() == "true"
                on:change=move |ev| text.set(event_target_checked(&ev).to_string())
                aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::DateTime => view! { <LocalDateTimeInput id name text readonly=!can_write described_by/> }.into_any(),
        FieldKind::Date => view! {
            <input id=id name=name type="date" value=initial readonly=!can_write bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::Duration => view! {
            <input id=id name=name type="text" placeholder="1h 30m" value=initial readonly=!can_write bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::Integer { .. } | FieldKind::Decimal | FieldKind::Money => view! {
            <input id=id name=name type="text" inputmode="decimal" value=initial readonly=!can_write bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
        FieldKind::Text { .. } | FieldKind::Tags => view! {
            <input id=id name=name type="text" value=initial readonly=!can_write bind:value=text aria-describedby=described_by/>
        }
        .into_any(),
    }
}

/// A select over records or members (one group, unlabelled), with an empty option to
/// clear it; option values are the ids.
#[component]
fn ChoiceSelect(
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    disabled: bool,
    groups: Vec<(Option<&'static str>, Vec<Choice>)>,
    described_by: String,
) -> impl IntoView {
    let groups = groups
        .into_iter()
        .map(|(caption, options)| {
            let options = options
                .into_iter()
                .map(|c| (c.id.to_string(), c.title))
                .collect();
            (caption, options)
        })
        .collect();
    view! { <GroupedSelect id name text disabled groups described_by/> }
}

/// A select whose options (value, text) come in groups, each an `<optgroup>` when it has
/// a caption, with an empty option to clear it.
#[component]
fn GroupedSelect(
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    disabled: bool,
    groups: OptionGroups,
    described_by: String,
) -> impl IntoView {
    let option = move |(value, shown): (String, String)| {
        let selected = {
            let value = value.clone();
            move || text.get() == value
        };
        view! { <option value=value selected=selected>{shown}</option> }
    };
    let groups = groups
        .into_iter()
        .map(|(caption, options)| {
            let options = options.into_iter().map(option).collect_view();
            match caption {
                Some(caption) => view! { <optgroup label=caption>{options}</optgroup> }.into_any(),
                None => options.into_any(),
            }
        })
        .collect_view();
    view! {
        <select id=id name=name disabled=disabled bind:value=text aria-describedby=described_by>
            <option value="">"—"</option>
            {groups}
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
    disabled: bool,
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
    readonly: bool,
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
