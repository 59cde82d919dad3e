//! ActivityFeed: who did what, live, for the workspace, one member or one record, read
//! from the change log: grouped by day, user or record; filtered by type, user, dates and
//! text; virtually scrolled (only the rows in view are in the DOM, so a long history
//! stays smooth) with older pages loaded as the reader nears the end; and exported as CSV
//! with the same filters.

use leptos::prelude::*;

use crate::api::activity::list_activity;
use crate::api::records::list_member_choices;
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, local_parts, LocalTime};
use crate::model::activity::{ActivityEntry, ActivityFilter, FeedType};
use crate::model::{percent_encode, Choice};
use crate::realtime::protocol::{ChangeOp, Position, Room};
use crate::realtime::{use_realtime, RoomEvent, RoomListener};

/// How a feed is grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Grouping {
    /// By day: "Today", "Yesterday", then dates.
    #[default]
    Time,
    /// By who did it.
    User,
    /// By the record it concerns.
    Record,
}

/// Height of a group heading row, pixels (rows have fixed heights, so the rows in view
/// are found by arithmetic).
const HEADING_PX: f64 = 32.0;
/// Height of an entry row, pixels.
const ENTRY_PX: f64 = 64.0;
/// Height of the scrolled viewport, pixels.
const VIEWPORT_PX: f64 = 480.0;
/// Rows rendered beyond each edge of the viewport.
const OVERSCAN: usize = 6;

/// The ops a reader may filter by, with their labels.
const OPS: [(ChangeOp, &str); 7] = [
    (ChangeOp::Created, "Created"),
    (ChangeOp::Updated, "Updated"),
    (ChangeOp::Deleted, "Deleted"),
    (ChangeOp::Restored, "Restored"),
    (ChangeOp::Bulk, "Imports"),
    (ChangeOp::Members, "Member changes"),
    (ChangeOp::Announced, "Announcements"),
];

/// One row of the flattened, grouped feed.
#[derive(Clone, Debug, PartialEq)]
enum Row {
    Heading(String),
    Entry(Box<ActivityEntry>),
}

impl Row {
    fn height(&self) -> f64 {
        match self {
            Row::Heading(_) => HEADING_PX,
            Row::Entry(_) => ENTRY_PX,
        }
    }
}

/// A `YYYY-MM-DD` date's local midnight, Unix milliseconds (`None` on the server or for
/// anything else).
fn local_midnight(date: &str) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        if !crate::model::record::is_iso_date(date) {
            return None;
        }
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&format!(
            "{date}T00:00:00"
        )));
        let t = d.get_time();
        (!t.is_nan()).then_some(t as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = date;
        None
    }
}

/// The day heading of an instant: "Today", "Yesterday" or its local date.
fn day_label(ms: i64) -> String {
    let day = |ms: i64| local_parts(ms).map(|(y, m, d, _, _)| (y, m, d));
    let now = crate::model::now_ms();
    match day(ms) {
        Some(d) if Some(d) == day(now) => "Today".into(),
        Some(d) if Some(d) == day(now - 24 * 60 * 60 * 1000) => "Yesterday".into(),
        Some((y, m, d)) => format!("{y:04}-{m:02}-{d:02}"),
        None => crate::model::format_utc(ms)[..10].to_string(),
    }
}

/// The feed's entries as rows under their group headings (groups in order of their
/// newest entry).
fn rows(entries: &[ActivityEntry], grouping: Grouping) -> Vec<Row> {
    let key = |e: &ActivityEntry| match grouping {
        Grouping::Time => day_label(e.at),
        Grouping::User => e.actor_name.clone(),
        Grouping::Record => e.record_title.clone(),
    };
    let mut groups: Vec<(String, Vec<&ActivityEntry>)> = Vec::new();
    for e in entries {
        let k = key(e);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, list)) => list.push(e),
            None => groups.push((k, vec![e])),
        }
    }
    let mut out = Vec::with_capacity(entries.len() + groups.len());
    for (heading, list) in groups {
        out.push(Row::Heading(heading));
        out.extend(list.into_iter().map(|e| Row::Entry(Box::new(e.clone()))));
    }
    out
}

/// The live feed of the current workspace (from context).
///
/// `feed_type` says whose feed (the workspace's, a member's, a record's; the record or
/// member is its `entity_id`); `max_items` is the page size (older pages load as the
/// reader scrolls); `filters` are the filters it starts with.
#[component]
pub fn ActivityFeed(
    /// Which feed.
    feed_type: FeedType,
    /// Entries per page (1 to 200).
    #[prop(default = 50)]
    max_items: usize,
    /// The filters it opens with.
    #[prop(optional)]
    filters: ActivityFilter,
) -> impl IntoView {
    let view = expect_context::<WorkspaceView>();
    let slug = view.workspace.slug.clone();
    let room = match feed_type {
        FeedType::Record { kind, id } => Room::Record(kind, id),
        _ => Room::Workspace(view.workspace.id),
    };
    let entries = RwSignal::new(Vec::<ActivityEntry>::new());
    let next = RwSignal::new(None::<Position>);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let filter = RwSignal::new(filters.clone());
    let grouping = RwSignal::new(Grouping::Time);
    let members = RwSignal::new(Vec::<Choice>::new());
    let scroll_top = RwSignal::new(0.0f64);
    let listener = StoredValue::new(None::<RoomListener>);
    let generation = StoredValue::new(0u64);
    let limit = max_items.clamp(1, 200) as i64;
    let typed = RwSignal::new(filters.text.clone().unwrap_or_default());
    let text: Signal<String> = leptos_use::signal_debounced(typed, 300.0);

    // Loads a page: the first (replacing what is shown, and resuming the room from where
    // it was read) or the one after `before`. An answer to an older filter is dropped.
    let load = {
        let slug = slug.clone();
        move |before: Option<Position>| {
            let slug = slug.clone();
            let asked = filter.get_untracked();
            let gen = generation.get_value();
            loading.set(true);
            leptos::task::spawn_local(async move {
                let page = list_activity(slug, feed_type, Some(asked), before, Some(limit)).await;
                if generation.get_value() != gen {
                    return;
                }
                loading.set(false);
                match page {
                    Ok(page) => {
                        error.set(None);
                        next.set(page.next);
                        if before.is_none() {
                            entries.set(page.entries);
                            if let (Some(l), Some(p)) = (listener.get_value(), page.position) {
                                l.resume(p);
                            }
                        } else {
                            entries.update(|list| list.extend(page.entries));
                        }
                    }
                    Err(e) => error.set(Some(error_message(&e))),
                }
            });
        }
    };
    let reload = {
        let load = load.clone();
        move || {
            generation.update_value(|g| *g += 1);
            load(None)
        }
    };
    let name = move |id: i64| {
        members.with_untracked(|m| m.iter().find(|c| c.id == id).map(|c| c.title.clone()))
    };
    if let Some(rt) = use_realtime() {
        let reload = reload.clone();
        let l = rt.listen(room, move |ev| match ev {
            RoomEvent::Change(change, position) => {
                let Some(e) = ActivityEntry::from_change(&change, position, &name) else {
                    return;
                };
                let mine = match feed_type {
                    FeedType::User { id } => e.actor == Some(id),
                    _ => true,
                };
                if mine && filter.with_untracked(|f| f.matches(&e)) {
                    entries.update(|list| {
                        if list.iter().all(|x| x.position != e.position) {
                            list.insert(0, e);
                        }
                    });
                }
            }
            RoomEvent::Resync => reload(),
            _ => {}
        });
        listener.set_value(Some(l));
    }
    {
        let slug = slug.clone();
        Effect::new(move |_| {
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                if let Ok(m) = list_member_choices(slug).await {
                    members.set(m);
                }
            });
        });
    }
    // The debounced text goes into the filter; any change of the filter reloads.
    Effect::new(move |_| {
        let t = text.get();
        let t = (!t.trim().is_empty()).then_some(t);
        if filter.with_untracked(|f| f.text != t) {
            filter.update(|f| f.text = t);
        }
    });
    {
        let reload = reload.clone();
        Effect::new(move |_| {
            filter.track();
            reload();
        });
    }

    let all_rows = Memo::new(move |_| entries.with(|e| rows(e, grouping.get())));
    let offsets = Memo::new(move |_| {
        all_rows.with(|rows| {
            let mut at = 0.0;
            let mut out = Vec::with_capacity(rows.len() + 1);
            for r in rows {
                out.push(at);
                at += r.height();
            }
            out.push(at);
            out
        })
    });
    // The rows in view (with some beyond each edge), as (index, top, row).
    let visible = move || {
        let top = scroll_top.get();
        offsets.with(|off| {
            let n = off.len().saturating_sub(1);
            let first = off
                .partition_point(|o| *o < top)
                .saturating_sub(1 + OVERSCAN);
            let last = (off.partition_point(|o| *o < top + VIEWPORT_PX) + OVERSCAN).min(n);
            all_rows.with(|rows| {
                (first..last)
                    .map(|i| (i, off[i], rows[i].clone()))
                    .collect::<Vec<_>>()
            })
        })
    };
    // Near the end of what is loaded: load the next page.
    {
        let load = load.clone();
        Effect::new(move |_| {
            let bottom = scroll_top.get() + VIEWPORT_PX;
            let total = offsets.with(|o| o.last().copied().unwrap_or(0.0));
            if total - bottom < 4.0 * ENTRY_PX && !loading.get_untracked() {
                if let Some(before) = next.get_untracked() {
                    load(Some(before));
                }
            }
        });
    }

    let export = move || {
        let feed = serde_json::to_string(&feed_type).unwrap_or_default();
        let f = filter.with(|f| serde_json::to_string(f).unwrap_or_default());
        format!(
            "/api/export_activity?workspace={}&feed={}&filter={}",
            percent_encode(&slug),
            percent_encode(&feed),
            percent_encode(&f)
        )
    };
    let set_ops = move |value: String| {
        filter.update(|f| {
            f.ops = OPS
                .iter()
                .find(|(op, _)| op.as_str() == value)
                .map(|(op, _)| vec![*op])
                .unwrap_or_default()
        })
    };
    let set_date = move |to: bool, value: String| {
        let ms = local_midnight(&value);
        filter.update(|f| {
            if to {
                f.to = ms.map(|m| m + 24 * 60 * 60 * 1000);
            } else {
                f.from = ms;
            }
        })
    };
    let show_user_filter = !matches!(feed_type, FeedType::User { .. });
    let entry_view = move |e: ActivityEntry| {
        let changes = e
            .fields
            .iter()
            .map(|f| {
                let over = if f.overwritten { " (overwritten)" } else { "" };
                format!(
                    "{}: {} → {}{over}",
                    f.caption,
                    show(&f.before),
                    show(&f.after)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let label = format!("{} {}", e.actor_name, e.summary);
        view! {
            <div class="activity-entry" role="article" aria-label=label>
                <p class="what"><strong>{e.actor_name.clone()}</strong>" "{e.summary.clone()}" "
                    <span class="when"><LocalTime ms=e.at/></span></p>
                {(!changes.is_empty()).then(|| view! { <p class="changes" title=changes.clone()>{changes.clone()}</p> })}
            </div>
        }
    };

    // Its own view (type-erased), so the feed's view type stays shallow enough for the
    // compiler's layout depth limit on the pages that hold it.
    let filters = view! {
            <div class="activity-filters">
                <label>"Type"
                    <select aria-label="Type" on:change=move |ev| set_ops(event_target_value(&ev))>
                        <option value="">"All"</option>
                        {OPS.iter().map(|(op, label)| view! { <option value=op.as_str()>{*label}</option> }).collect_view()}
                    </select>
                </label>
                {show_user_filter.then(|| view! {
                    <label>"User"
                        <select aria-label="User" on:change=move |ev| {
                            let id = event_target_value(&ev).parse::<i64>().ok();
                            filter.update(|f| f.user = id);
                        }>
                            <option value="">"Anyone"</option>
                            {move || members.get().into_iter().map(|m| view! { <option value=m.id.to_string()>{m.title}</option> }).collect_view()}
                        </select>
                    </label>
                })}
                <label>"From"<input type="date" aria-label="From" on:change=move |ev| set_date(false, event_target_value(&ev))/></label>
                <label>"To"<input type="date" aria-label="To" on:change=move |ev| set_date(true, event_target_value(&ev))/></label>
                <label>"Search activity"<input type="search" aria-label="Search activity" bind:value=typed/></label>
                <label>"Group by"
                    <select aria-label="Group by" on:change=move |ev| grouping.set(match event_target_value(&ev).as_str() {
                        "user" => Grouping::User,
                        "record" => Grouping::Record,
                        _ => Grouping::Time,
                    })>
                        <option value="time">"Day"</option>
                        <option value="user">"User"</option>
                        <option value="record">"Record"</option>
                    </select>
                </label>
                <a class="button" href=export download>"Export CSV"</a>
            </div>
    }
    .into_any();
    view! {
        <section class="activity" aria-label="Activity feed">
            {filters}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="activity-scroll" role="feed" aria-label="Activity entries" aria-busy=move || loading.get().to_string()
                style=format!("height: {VIEWPORT_PX}px")
                on:scroll=move |ev| {
                    let el: web_sys::Element = event_target(&ev);
                    scroll_top.set(el.scroll_top() as f64);
                }>
                <div class="activity-rows" style=move || format!("height: {}px", offsets.with(|o| o.last().copied().unwrap_or(0.0)))>
                    <For each=visible key=|(i, top, row)| (*i, top.to_bits(), match row { Row::Heading(h) => h.clone(), Row::Entry(e) => format!("{}:{}", e.position.epoch, e.position.offset) }) let:item>
                        {
                            let (_, top, row) = item;
                            let style = format!("top: {top}px; height: {}px", row.height());
                            match row {
                                Row::Heading(h) => view! { <h3 class="activity-heading" style=style>{h}</h3> }.into_any(),
                                Row::Entry(e) => view! { <div class="activity-row" style=style>{entry_view(*e)}</div> }.into_any(),
                            }
                        }
                    </For>
                </div>
                {move || (entries.with(Vec::is_empty) && !loading.get()).then(|| view! { <p class="empty">"No activity yet."</p> })}
            </div>
            {
                let load = load.clone();
                move || next.get().map(|before| {
                    let load = load.clone();
                    view! { <button type="button" disabled=move || loading.get() on:click=move |_| load(Some(before))>"Load older activity"</button> }
                })
            }
        </section>
    }
}

/// A value in a change line ("empty" when there was none).
fn show(v: &str) -> String {
    if v.is_empty() {
        "empty".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::protocol::Position;

    fn entry(at: i64, who: &str, record: &str) -> ActivityEntry {
        ActivityEntry {
            position: Position {
                epoch: 1,
                offset: at,
            },
            at,
            actor: None,
            actor_name: who.into(),
            op: ChangeOp::Updated,
            record: None,
            record_title: record.into(),
            summary: String::new(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn rows_group_under_headings_in_order_of_newest() {
        let list = [
            entry(3, "Ann", "Acme"),
            entry(2, "Bob", "Zeta"),
            entry(1, "Ann", "Zeta"),
        ];
        let by_user = rows(&list, Grouping::User);
        let headings: Vec<&str> = by_user
            .iter()
            .filter_map(|r| match r {
                Row::Heading(h) => Some(h.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(headings, vec!["Ann", "Bob"]);
        assert_eq!(by_user.len(), 5);
        assert!(
            matches!(&by_user[2], Row::Entry(e) if e.at == 1),
            "Ann's second entry under her heading"
        );
    }
}
