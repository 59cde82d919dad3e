//! `/w/{slug}/queue`: the calls queue. Calls in progress, then overdue, today's and later
//! scheduled calls, by time; filters by status, priority and assignee; start, complete or
//! miss a call in one click with its outcome and remarks. Live through the workspace room.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::records::{list_form_choices, update_record};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, local_day_start, AfterHydration, LocalTime, Ready};
use crate::model::record::{CALL_STATUSES, WORK_PRIORITIES};
use crate::model::{now_ms, FieldChange, Record, RecordKind, RecordQuery, Value};
use crate::pages::records::live_records;

const KIND: RecordKind = RecordKind::Call;
/// The status filter's value for "scheduled or in progress".
const OPEN: &str = "open";

/// The calls queue page.
#[component]
pub fn CallsQueuePage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let can_write = ws.role.can_write();
    let status = RwSignal::new(OPEN.to_string());
    let priority = RwSignal::new(String::new());
    let assignee = RwSignal::new(String::new());
    let query = move |status: Option<&str>| {
        let mut q = RecordQuery {
            sort: Some("scheduled_at".into()),
            limit: 200,
            ..Default::default()
        };
        if let Some(s) = status.filter(|s| !s.is_empty()) {
            q.filters.insert("status".into(), Value::Text(s.into()));
        }
        if let Some(p) = Some(priority.get()).filter(|p| !p.is_empty()) {
            q.filters.insert("priority".into(), Value::Text(p));
        }
        if let Ok(a) = assignee.get().parse::<i64>() {
            q.filters.insert("assignee_id".into(), Value::Int(a));
        }
        q
    };
    // "Open" is two lists: in progress, then scheduled; any other status is one.
    let main = live_records(KIND, move || {
        let s = status.get();
        query(Some(if s == OPEN { "scheduled" } else { s.as_str() }))
    });
    let in_progress = live_records(KIND, move || query(Some("in progress")));
    let list_slug = StoredValue::new(slug.clone());
    let members = Resource::new(|| (), {
        let slug = slug.clone();
        move |_| list_form_choices(slug.clone())
    });
    let select = |label: &'static str, value: RwSignal<String>, options: Vec<(String, String)>| {
        view! {
            <label>{label}
                <select on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                    {options.into_iter().map(|(v, t)| view! { <option value=v.clone() selected=value.get_untracked() == v>{t}</option> }).collect_view()}
                </select>
            </label>
        }
    };
    let mut statuses = vec![
        (OPEN.to_string(), "Open".to_string()),
        (String::new(), "Any".to_string()),
    ];
    statuses.extend(CALL_STATUSES.iter().map(|s| (s.to_string(), s.to_string())));
    let mut priorities = vec![(String::new(), "Any".to_string())];
    priorities.extend(
        WORK_PRIORITIES
            .iter()
            .map(|p| (p.to_string(), p.to_string())),
    );
    view! {
        <header class="page-header"><h1>"Calls queue"</h1>
            {can_write.then(|| view! { <a href=format!("/w/{slug}/calls/new")>"New call"</a> })}
        </header>
        <Ready>
        <div class="filters" role="group" aria-label="Filter calls">
            {select("Status", status, statuses)}
            {select("Priority", priority, priorities)}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let mut options = vec![(String::new(), "Anyone".to_string())];
                    if let Ok(c) = members.await {
                        options.extend(c.members.into_iter().map(|m| (m.id.to_string(), m.title)));
                    }
                    select("Assignee", assignee, options)
                })}
            </Suspense>
        </div>
        </Ready>
        // Sections depend on the viewer's day, so the list renders after hydration (the
        // server does not know the viewer's zone).
        <AfterHydration>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let slug = list_slug.get_value();
                let open = status.get() == OPEN;
                Suspend::new(async move {
                    let (main, running) = (main.await, in_progress.await);
                    let loaded = main.and_then(|m| {
                        let mut calls = if open { running?.items } else { Vec::new() };
                        calls.extend(m.items);
                        Ok(calls)
                    });
                    match loaded {
                        Ok(calls) => view! { <Queue slug calls can_write/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
        </AfterHydration>
    }
}

/// The section a call is shown in, in the order shown: a scheduled call whose time has
/// passed (`now`) is overdue; completed, missed and cancelled ones are closed.
fn section(call: &Record, now: i64, tomorrow: i64) -> &'static str {
    match (
        call.get("status").as_text(),
        call.get("scheduled_at").as_int(),
    ) {
        (Some("in progress"), _) => "In progress",
        (Some("scheduled"), Some(at)) if at < now => "Overdue",
        (Some("scheduled"), Some(at)) if at < tomorrow => "Today",
        (Some("scheduled"), Some(_)) => "Upcoming",
        (Some("scheduled"), None) => "Not scheduled",
        _ => "Closed",
    }
}

/// The calls, in sections.
#[component]
fn Queue(slug: String, calls: Vec<Record>, can_write: bool) -> impl IntoView {
    if calls.is_empty() {
        return view! { <p>"No calls here."</p> }.into_any();
    }
    let now = now_ms();
    let tomorrow = local_day_start(now, 1);
    let order = [
        "In progress",
        "Overdue",
        "Today",
        "Upcoming",
        "Not scheduled",
        "Closed",
    ];
    let mut sections: BTreeMap<usize, Vec<Record>> = BTreeMap::new();
    for c in calls {
        let s = section(&c, now, tomorrow);
        let i = order
            .iter()
            .position(|o| *o == s)
            .unwrap_or(order.len() - 1);
        sections.entry(i).or_default().push(c);
    }
    sections
        .into_iter()
        .map(|(i, calls)| {
            let heading = order[i];
            let id = format!("queue-{}", heading.to_lowercase().replace(' ', "-"));
            let slug = slug.clone();
            let labelled_by = id.clone();
            view! {
                <section class="queue" class:overdue=heading == "Overdue" aria-labelledby=labelled_by>
                    <h2 id=id>{format!("{heading} ({})", calls.len())}</h2>
                    <ul class="queue-list">
                        {calls.into_iter().map(|c| view! { <CallRow slug=slug.clone() call=c can_write/> }).collect_view()}
                    </ul>
                </section>
            }
        })
        .collect_view()
        .into_any()
}

/// One call with its actions: Start (a scheduled call), Complete and Missed (an open one),
/// each saving the status with the outcome and remarks typed beside it, in one update.
#[component]
fn CallRow(slug: String, call: Record, can_write: bool) -> impl IntoView {
    let title = call.title();
    let status = call.display("status");
    let outcome = RwSignal::new(call.display("outcome"));
    let remarks = RwSignal::new(call.display("remarks"));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let open = matches!(status.as_str(), "scheduled" | "in progress");
    let stored = call.clone();
    let save = move |to: &'static str| {
        let (slug, call) = (slug.clone(), stored.clone());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let mut changes = BTreeMap::new();
            let mut change = |field: &str, value: Value| {
                let base = call.get(field).clone();
                if base != value {
                    changes.insert(field.to_string(), FieldChange { base, value });
                }
            };
            change("status", Value::Text(to.into()));
            let text = |s: String| {
                if s.trim().is_empty() {
                    Value::Null
                } else {
                    Value::Text(s)
                }
            };
            change("outcome", text(outcome.get_untracked()));
            change("remarks", text(remarks.get_untracked()));
            // The queue reloads through the workspace room when the change lands.
            if let Err(e) = update_record(slug, KIND, call.id, changes, None, None).await {
                error.set(Some(error_message(&e)));
            }
            busy.set(false);
        });
    };
    let (start, complete, miss) = (save.clone(), save.clone(), save);
    let href = format!(
        "/w/{}/calls/{}",
        expect_context::<WorkspaceView>().workspace.slug,
        call.id
    );
    let when = call.get("scheduled_at").as_int();
    view! {
        <li class="queue-item" aria-label=title.clone()>
            <div class="queue-main">
                <a href=href>{title.clone()}</a>
                <span class="meta">{call.display("customer_id")}</span>
                <span class="meta">{call.display("assignee_id")}</span>
                <span class=format!("badge priority-{}", call.display("priority"))>{call.display("priority")}</span>
                {when.map(|ms| view! { <LocalTime ms/> })}
                <span class="status"><span class="visually-hidden">"Status: "</span>{status.clone()}</span>
            </div>
            {(can_write && open).then(|| view! {
                <div class="queue-actions">
                    <label>"Outcome"<input type="text" maxlength="200" bind:value=outcome aria-label=format!("Outcome of {title}")/></label>
                    <label>"Remarks"<input type="text" bind:value=remarks aria-label=format!("Remarks on {title}")/></label>
                    {(status == "scheduled").then(|| view! {
                        <button type="button" disabled=move || busy.get() on:click=move |_| start("in progress") aria-label=format!("Start {title}")>"Start"</button>
                    })}
                    <button type="button" disabled=move || busy.get() on:click=move |_| complete("completed") aria-label=format!("Complete {title}")>"Complete"</button>
                    <button type="button" disabled=move || busy.get() on:click=move |_| miss("missed") aria-label=format!("Mark {title} missed")>"Missed"</button>
                </div>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}
