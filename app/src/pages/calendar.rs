//! `/w/{slug}/calendar`: the meetings calendar. A week of the chosen members' free slots
//! (where all of them are available by their calendars and not in a meeting) in the
//! viewer's time zone, their meetings, and the booking flow: pick a slot, name the
//! meeting, book. Booking is atomic on the server; a slot taken meanwhile is refused with
//! "this slot was just taken" and the week reloads. Live: a slot booked or freed by anyone
//! goes or comes back without a reload. Below, the viewer's own availability.

use leptos::prelude::*;

use crate::api::calendar::{get_calendar, list_free_slots, set_calendar};
use crate::api::records::{create_record, list_form_choices};
use crate::api::workspaces::WorkspaceView;
use crate::components::{
    error_message, local_clock, local_day_label, local_day_start, local_week_start, local_zone,
    ActionError, AfterHydration, Ready,
};
use crate::model::calendar::{Calendar, FreeSlots, Window};
use crate::model::{now_ms, Fields, RecordKind, Value};
use crate::realtime::protocol::Room;
use crate::realtime::{use_realtime, RoomEvent};

const DAY: i64 = 86_400_000;

/// The calendar page.
#[component]
pub fn CalendarPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let me = ws.user.id;
    let can_write = ws.role.can_write();
    let people = RwSignal::new(vec![me]);
    // The week shown: local midnight of its Monday, known only in the browser.
    let week = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        if week.get_untracked().is_none() {
            week.set(Some(local_week_start(now_ms())));
        }
    });
    let slots_slug = slug.clone();
    let slots = LocalResource::new(move || {
        let (slug, users, from) = (slots_slug.clone(), people.get(), week.get());
        async move {
            match from {
                Some(from) if !users.is_empty() => list_free_slots(
                    slug,
                    users,
                    from,
                    local_day_start(from + DAY / 2, 7),
                    Some(30),
                )
                .await
                .map(Some),
                _ => Ok(None),
            }
        }
    });
    // Live: any meeting booked, moved, answered or cancelled reloads the week.
    if let Some(rt) = use_realtime() {
        rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
            let meeting = match &ev {
                RoomEvent::Change(c, _) => c.kind() == Some(RecordKind::Meeting),
                RoomEvent::Resync => true,
                _ => false,
            };
            if meeting {
                slots.refetch();
            }
        });
    }
    let members = Resource::new(|| (), {
        let slug = slug.clone();
        move |_| list_form_choices(slug.clone())
    });
    let picked = RwSignal::new(None::<(i64, Vec<i64>)>);
    let week_slug = StoredValue::new(slug.clone());
    let shift = move |days: i64| {
        week.update(|w| {
            *w = Some(match *w {
                // Local midnight `days` on (not `days * DAY`: a DST change makes one
                // day 23 or 25 hours long).
                Some(w) => local_day_start(w + DAY / 2, days),
                None => local_week_start(now_ms()),
            })
        })
    };
    view! {
        <header class="page-header"><h1>"Calendar"</h1>
            <a href=format!("/w/{slug}/meetings")>"All meetings"</a>
        </header>
        <Ready>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let members = members.await.map(|c| c.members).unwrap_or_default();
                view! {
                    <div class="checklist" role="group" aria-label="Whose calendar">
                        {members.into_iter().map(|m| {
                            let id = m.id;
                            let checked = move || people.with(|p| p.contains(&id));
                            let initially = people.with_untracked(|p| p.contains(&id));
                            view! {
                                <label class="check">
                                    <input type="checkbox" checked=initially prop:checked=checked on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        people.update(|p| { p.retain(|u| *u != id); if on { p.push(id); p.sort_unstable(); } });
                                    }/>
                                    {m.title}
                                </label>
                            }
                        }).collect_view()}
                    </div>
                }
            })}
        </Suspense>
        <nav class="week-nav" aria-label="Week">
            <button type="button" on:click=move |_| shift(-7)>"Previous week"</button>
            <button type="button" on:click=move |_| week.set(Some(local_week_start(now_ms())))>"This week"</button>
            <button type="button" on:click=move |_| shift(7)>"Next week"</button>
        </nav>
        </Ready>
        // The week exists only in the browser (it is the viewer's local week), so it is
        // rendered after hydration: the server's page and the hydrating one agree.
        <AfterHydration>
                <Suspense fallback=|| view! { <p>"Loading the calendar…"</p> }>
                    {move || {
                        let slug = week_slug.get_value();
                        Suspend::new(async move {
                            match slots.await {
                                Ok(Some(free)) => view! { <Week free picked slug can_write/> }.into_any(),
                                Ok(None) => view! { <p>"Choose whose calendar to see."</p> }.into_any(),
                                Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                            }
                        })
                    }}
                </Suspense>
        </AfterHydration>
        {move || picked.get().filter(|_| can_write).map(|(at, lengths)| view! {
            <BookDialog slug=slug.clone() at lengths people picked on_done=Callback::new(move |_| slots.refetch())/>
        })}
        <AfterHydration><Availability slug=week_slug.get_value()/></AfterHydration>
    }
}

/// A slot picked for booking: its start and the lengths (minutes) that fit in the free
/// time from there.
type Picked = Option<(i64, Vec<i64>)>;

/// The lengths a booking may have.
const LENGTHS: [i64; 3] = [30, 60, 90];

/// The week's grid: a column per day with its meetings and its free slots as buttons.
/// One slot is in the Tab order (a roving tabindex); arrow keys move between slots (up
/// and down within a day, left and right across days). Viewers see the slots disabled.
#[component]
fn Week(free: FreeSlots, picked: RwSignal<Picked>, slug: String, can_write: bool) -> impl IntoView {
    // Local midnights of the seven days and of the day after (a day around a
    // daylight-saving change is 23 or 25 hours long).
    let days: Vec<i64> = (0..8)
        .map(|d| local_day_start(free.from + DAY / 2, d))
        .collect();
    let move_focus = move |ev: leptos::ev::KeyboardEvent| {
        let (dx, dy) = match ev.key().as_str() {
            "ArrowDown" => (0, 1),
            "ArrowUp" => (0, -1),
            "ArrowRight" => (1, 0),
            "ArrowLeft" => (-1, 0),
            _ => return,
        };
        let Some(el) = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
        else {
            return;
        };
        let (Some(d), Some(i)) = (el.get_attribute("data-day"), el.get_attribute("data-index"))
        else {
            return;
        };
        let (Ok(d), Ok(i)) = (d.parse::<i64>(), i.parse::<i64>()) else {
            return;
        };
        ev.prevent_default();
        let doc = document();
        let find = |d: i64, i: i64| {
            doc.query_selector(&format!("[data-day=\"{d}\"][data-index=\"{i}\"]"))
                .ok()
                .flatten()
        };
        let target = if dx == 0 {
            find(d, i + dy)
        } else {
            // The nearest day that way with slots, at the same place or its last slot.
            (1..7)
                .map(|n| d + dx * n)
                .filter(|d| (0..7).contains(d))
                .find_map(|d| {
                    find(d, i).or_else(|| {
                        let all = doc
                            .query_selector_all(&format!("[data-day=\"{d}\"]"))
                            .ok()?;
                        all.item(all.length().checked_sub(1)?)
                            .and_then(|n| wasm_bindgen::JsCast::dyn_into(n).ok())
                    })
                })
        };
        if let Some(t) =
            target.and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(t).ok())
        {
            let _ = el.set_attribute("tabindex", "-1");
            let _ = t.set_attribute("tabindex", "0");
            let _ = t.focus();
        }
    };
    let free_at = free.slots.clone();
    let step = free.slot_minutes * 60_000;
    // The lengths that fit from `at`: each of its slots free.
    let fits = move |at: i64| -> Vec<i64> {
        LENGTHS
            .into_iter()
            .filter(|l| (0..l * 60_000 / step).all(|k| free_at.contains(&(at + k * step))))
            .collect()
    };
    let first_slot = free.slots.first().copied();
    view! {
        <p class="meta">{format!("Times are in your time zone, {}. Slots of {} minutes.", local_zone(), free.slot_minutes)}</p>
        {(!can_write).then(|| view! { <p class="meta">"Viewers see free slots but cannot book."</p> })}
        <div class="week" role="group" aria-label="Free slots of the week" on:keydown=move_focus>
            {days.windows(2).enumerate().map(|(d, span)| {
                let (start, end) = (span[0], span[1]);
                let label = local_day_label(start);
                let meetings: Vec<_> = free.busy.iter().filter(|b| b.starts_at < end && b.ends_at > start).cloned().collect();
                let mut seen = Vec::new();
                let meetings: Vec<_> = meetings.into_iter().filter(|b| {
                    let key = (b.record, b.starts_at);
                    let fresh = !seen.contains(&key);
                    seen.push(key);
                    fresh
                }).collect();
                let slots: Vec<i64> = free.slots.iter().copied().filter(|s| *s >= start && *s < end).collect();
                let heading = format!("day-{d}");
                let labelled_by = heading.clone();
                let slug = slug.clone();
                let fits = fits.clone();
                view! {
                    <section class="day" aria-labelledby=labelled_by>
                        <h2 id=heading>{label.clone()}</h2>
                        {(!meetings.is_empty()).then(|| view! {
                        <ul class="busy" aria-label=format!("Meetings on {label}")>
                            {meetings.into_iter().map(|b| {
                                let text = format!("{}–{} {}", local_clock(b.starts_at), local_clock(b.ends_at), b.title.clone().unwrap_or_else(|| "Busy".into()));
                                match b.record {
                                    Some((kind, id)) => view! { <li><a href=format!("/w/{slug}/{}/{id}", kind.path())>{text}</a></li> }.into_any(),
                                    None => view! { <li>{text}</li> }.into_any(),
                                }
                            }).collect_view()}
                        </ul>
                        })}
                        <ul class="slots" aria-label=format!("Free slots on {label}")>
                            {slots.into_iter().enumerate().map(|(i, at)| {
                                let name = format!("Book {label} {}", local_clock(at));
                                let lengths = fits(at);
                                let tabindex = if Some(at) == first_slot { "0" } else { "-1" };
                                view! {
                                    <li><button type="button" data-day=d.to_string() data-index=i.to_string() aria-label=name
                                        tabindex=tabindex disabled=!can_write
                                        on:click=move |_| picked.set(Some((at, lengths.clone())))>{local_clock(at)}</button></li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                }
            }).collect_view()}
        </div>
    }
}

/// The booking dialog for the slot at `at`: a title and a length (of `lengths`, those
/// that fit the free time there); the meeting's participants are the members whose
/// calendar is shown, organized by the viewer. It takes the focus when it opens, Escape
/// or Cancel closes it, and the focus goes back to the slot (or, once booked, the week).
#[component]
fn BookDialog(
    slug: String,
    at: i64,
    lengths: Vec<i64>,
    people: RwSignal<Vec<i64>>,
    picked: RwSignal<Picked>,
    on_done: Callback<()>,
) -> impl IntoView {
    let first_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first_input.get() {
            let _ = input.focus();
        }
    });
    let slot_name = format!("Book {} {}", local_day_label(at), local_clock(at));
    let close = move || {
        picked.set(None);
        // Back to the slot, or the week when the slot is gone.
        let doc = document();
        let back = doc
            .query_selector(&format!("[aria-label=\"{slot_name}\"]"))
            .ok()
            .flatten()
            .or_else(|| doc.query_selector(".week button").ok().flatten());
        if let Some(el) =
            back.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = el.focus();
        }
    };
    let title = RwSignal::new(String::new());
    let minutes = RwSignal::new("30".to_string());
    let book = Action::new(move |_: &()| {
        let slug = slug.clone();
        let length: i64 = minutes.get_untracked().parse().unwrap_or(30);
        let ids: Vec<String> = people.get_untracked().iter().map(i64::to_string).collect();
        let mut fields = Fields::new();
        fields.insert("title".into(), Value::Text(title.get_untracked()));
        fields.insert("starts_at".into(), Value::Int(at));
        fields.insert("ends_at".into(), Value::Int(at + length * 60_000));
        fields.insert("status".into(), Value::Text("scheduled".into()));
        fields.insert("participants".into(), Value::Text(ids.join(",")));
        async move { create_record(slug, RecordKind::Meeting, fields).await }
    });
    let (close_done, close_key, close_cancel) = (close.clone(), close.clone(), close);
    Effect::new(move |_| match book.value().get() {
        Some(Ok(_)) => {
            close_done();
            on_done.run(());
        }
        // Taken meanwhile (or refused): the week shows what is free now.
        Some(Err(_)) => on_done.run(()),
        None => {}
    });
    let label = format!("{} {}", local_day_label(at), local_clock(at));
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-label="Book a meeting"
                on:keydown=move |ev| if ev.key() == "Escape" { close_key() }>
                <h2>{format!("Book {label}")}</h2>
                <form on:submit=move |ev| { ev.prevent_default(); book.dispatch(()); }>
                    <label>"Title"<input node_ref=first_input type="text" required maxlength="200" bind:value=title/></label>
                    <label>"Length"
                        <select bind:value=minutes>
                            {lengths.into_iter().map(|l| {
                                let text = match l { 30 => "30 minutes", 60 => "1 hour", _ => "1 hour 30 minutes" };
                                view! { <option value=l.to_string()>{text}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" disabled=move || book.pending().get()>"Book"</button>
                    <button type="button" on:click=move |_| close_cancel()>"Cancel"</button>
                </form>
                <ActionError result=book.value()/>
            </div>
        </div>
    }
}

/// The viewer's availability: time zone, working days and hours, days off and how early
/// reminders come.
#[component]
fn Availability(slug: String) -> impl IntoView {
    let loaded = LocalResource::new(move || {
        let slug = slug.clone();
        async move { get_calendar(slug, None).await }
    });
    view! {
        <section class="availability" aria-labelledby="availability-heading">
            <h2 id="availability-heading">"Your availability"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(c) => view! { <AvailabilityForm calendar=c/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// "09:00" for minutes after midnight.
fn hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Minutes after midnight of "09:00" (`None` for anything else).
fn minutes_of(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// The availability form: one span of hours on the checked weekdays (the first window
/// of the saved calendar), days off as dates, the zone and the reminder lead.
#[component]
fn AvailabilityForm(calendar: Calendar) -> impl IntoView {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let zone = RwSignal::new(if calendar.published {
        calendar.time_zone.clone()
    } else {
        local_zone()
    });
    let first = calendar.weekly.first().copied().unwrap_or(Window {
        weekday: 0,
        start_minute: 540,
        end_minute: 1020,
    });
    let from = RwSignal::new(hhmm(first.start_minute));
    let to = RwSignal::new(hhmm(first.end_minute));
    let days = RwSignal::new(
        calendar
            .weekly
            .iter()
            .map(|w| w.weekday)
            .collect::<Vec<_>>(),
    );
    let off = RwSignal::new(calendar.days_off.join(", "));
    let lead = RwSignal::new(calendar.reminder_minutes.to_string());
    let save = Action::new(move |_: &()| {
        let (start, end) = (
            minutes_of(&from.get_untracked()),
            minutes_of(&to.get_untracked()),
        );
        let mut weekdays = days.get_untracked();
        weekdays.sort_unstable();
        weekdays.dedup();
        let calendar = Calendar {
            time_zone: zone.get_untracked().trim().to_string(),
            reminder_minutes: lead.get_untracked().trim().parse().unwrap_or(-1),
            weekly: weekdays
                .into_iter()
                .map(|weekday| Window {
                    weekday,
                    start_minute: start.unwrap_or(-1),
                    end_minute: end.unwrap_or(-1),
                })
                .collect(),
            days_off: off
                .get_untracked()
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            published: true,
        };
        async move { set_calendar(calendar).await }
    });
    view! {
        <form on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
            <Ready>
            <label>"Time zone"<input type="text" required bind:value=zone/></label>
            <fieldset class="plain" role="group" aria-label="Working days">
                {DAYS.iter().enumerate().map(|(i, name)| {
                    let i = i as i64;
                    let checked = move || days.with(|d| d.contains(&i));
                    let initially = days.with_untracked(|d| d.contains(&i));
                    view! {
                        <label class="check"><input type="checkbox" checked=initially prop:checked=checked on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            days.update(|d| { d.retain(|x| *x != i); if on { d.push(i); } });
                        }/>{*name}</label>
                    }
                }).collect_view()}
            </fieldset>
            <label>"From"<input type="time" required bind:value=from/></label>
            <label>"To"<input type="time" required bind:value=to/></label>
            <label>"Days off"<input type="text" placeholder="2026-12-24, 2026-12-25" bind:value=off/></label>
            <label>"Reminder (minutes before, 0 for none)"<input type="number" min="0" max="1440" bind:value=lead/></label>
            <button type="submit">"Save availability"</button>
            </Ready>
        </form>
        <ActionError result=save.value()/>
        {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! { <p role="status">"Availability saved."</p> })}
    }
}
