//! `/w/{slug}/my-tasks`: the tasks of one member (the signed-in one unless another is
//! chosen), open ones first by due date, overdue ones marked, filtered by when they are
//! due, with a quick add and one-click "done". Live through the workspace room. The
//! whole team's tasks are the Tasks list and board (`/w/{slug}/tasks`).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::records::{create_record, list_form_choices, update_record};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, local_day_start, AfterHydration, Ready};
use crate::model::{now_ms, FieldChange, Fields, Record, RecordKind, RecordQuery, Value};
use crate::pages::records::live_records;

const KIND: RecordKind = RecordKind::Task;

/// Today's date (`YYYY-MM-DD`) in the viewer's zone and the date `days` later.
fn local_date(days: i64) -> String {
    let ms = local_day_start(now_ms(), days) + 12 * 3_600_000;
    match crate::components::local_parts(ms) {
        Some((y, m, d, _, _)) => format!("{y:04}-{m:02}-{d:02}"),
        None => crate::model::format_utc(ms)[..10].to_string(),
    }
}

/// The My tasks page.
#[component]
pub fn MyTasksPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let can_write = ws.role.can_write();
    let me = ws.user.id;
    let who = RwSignal::new(me.to_string());
    let due = RwSignal::new(String::new());
    let show_done = RwSignal::new(false);
    // Open tasks are filtered by status in the database ("to do", then "in progress"),
    // so old done ones never crowd them out of a page; "Show done" loads every status.
    let query = move |status: Option<&str>| {
        let mut q = RecordQuery {
            sort: Some("due_date".into()),
            limit: 500,
            ..Default::default()
        };
        if let Ok(id) = who.get().parse::<i64>() {
            q.filters.insert("assignee_id".into(), Value::Int(id));
        }
        if let Some(s) = status {
            q.filters.insert("status".into(), Value::Text(s.into()));
        }
        q
    };
    let tasks = live_records(KIND, move || query((!show_done.get()).then_some("to do")));
    let started = live_records(KIND, move || query(Some("in progress")));
    let members = Resource::new(|| (), {
        let slug = slug.clone();
        move |_| list_form_choices(slug.clone())
    });
    let list_slug = StoredValue::new(slug.clone());
    let heading = move || {
        if who.get() == me.to_string() {
            "My tasks"
        } else {
            "Tasks"
        }
    };
    view! {
        <header class="page-header"><h1>{heading}</h1>
            <a href=format!("/w/{slug}/tasks")>"All tasks and the board"</a>
        </header>
        {can_write.then(|| view! { <QuickAdd slug=slug.clone() who/> })}
        <Ready>
        <div class="filters" role="group" aria-label="Filter tasks">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let members = members.await.map(|c| c.members).unwrap_or_default();
                    view! {
                        <label>"Assignee"
                            <select on:change=move |ev| who.set(event_target_value(&ev)) prop:value=move || who.get()>
                                {members.into_iter().map(|m| {
                                    let v = m.id.to_string();
                                    view! { <option value=v.clone() selected=who.get_untracked() == v>{m.title}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    }
                })}
            </Suspense>
            <label>"Due"
                <select on:change=move |ev| due.set(event_target_value(&ev)) prop:value=move || due.get()>
                    <option value="">"Any time"</option>
                    <option value="overdue">"Overdue"</option>
                    <option value="today">"Today"</option>
                    <option value="week">"Next 7 days"</option>
                    <option value="none">"No due date"</option>
                </select>
            </label>
            <label><input type="checkbox" bind:checked=show_done/>" Show done"</label>
        </div>
        </Ready>
        // "Overdue" and "today" are the viewer's, so the list renders after hydration (the
        // server does not know the viewer's zone).
        <AfterHydration>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let slug = list_slug.get_value();
                let (wanted, done) = (due.get(), show_done.get());
                Suspend::new(async move {
                    let (first, second) = (tasks.await, started.await);
                    let loaded = first.and_then(|page| {
                        let mut items = page.items;
                        if !done {
                            items.extend(second?.items);
                        }
                        Ok(items)
                    });
                    match loaded {
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok(items) => {
                            let (today, week) = (local_date(0), local_date(7));
                            let mut rows: Vec<Record> = items.into_iter().filter(|t| {
                                let d = t.get("due_date").as_text().map(str::to_string);
                                let open = t.get("status").as_text() != Some("done");
                                (done || open) && match (wanted.as_str(), d.as_deref()) {
                                    ("overdue", Some(d)) => open && d < today.as_str(),
                                    ("today", Some(d)) => d == today,
                                    ("week", Some(d)) => d >= today.as_str() && d <= week.as_str(),
                                    ("none", None) | ("", _) => true,
                                    _ => false,
                                }
                            }).collect();
                            // Open first, then by due date (none last).
                            rows.sort_by_key(|t| (
                                t.get("status").as_text() == Some("done"),
                                t.get("due_date").as_text().map(str::to_string).unwrap_or_else(|| "9999".into()),
                            ));
                            view! { <TaskList slug rows today can_write/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
        </AfterHydration>
    }
}

/// The tasks as a list: title (linked), status, due date (overdue marked) and priority,
/// with a Done button on open ones.
#[component]
fn TaskList(slug: String, rows: Vec<Record>, today: String, can_write: bool) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p>"No tasks here."</p> }.into_any();
    }
    view! {
        <ul class="task-list" aria-label="Tasks">
            {rows.into_iter().map(|t| {
                let due = t.get("due_date").as_text().map(str::to_string);
                let open = t.get("status").as_text() != Some("done");
                let overdue = open && due.as_deref().is_some_and(|d| d < today.as_str());
                let title = t.title();
                let href = format!("/w/{slug}/tasks/{}", t.id);
                let (slug, task) = (slug.clone(), t.clone());
                let error = RwSignal::new(None::<String>);
                let done = move |_| {
                    let (slug, task) = (slug.clone(), task.clone());
                    leptos::task::spawn_local(async move {
                        let change = FieldChange { base: task.get("status").clone(), value: Value::Text("done".into()) };
                        let changes = BTreeMap::from([("status".to_string(), change)]);
                        if let Err(e) = update_record(slug, KIND, task.id, changes, None, None).await {
                            error.set(Some(error_message(&e)));
                        }
                    });
                };
                view! {
                    <li class="task" class:overdue=overdue aria-label=title.clone()>
                        <a href=href>{title.clone()}</a>
                        <span class="status">{t.display("status")}</span>
                        <span class="meta">{due.clone().map(|d| format!("Due {d}")).unwrap_or_else(|| "No due date".into())}</span>
                        {overdue.then(|| view! { <strong class="badge overdue">"Overdue"</strong> })}
                        <span class="badge">{t.display("priority")}</span>
                        {(can_write && open).then(|| view! {
                            <button type="button" on:click=done aria-label=format!("Mark {title} done")>"Done"</button>
                        })}
                        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Adds a task for the member shown (the viewer by default): a title and an optional due
/// date; the list picks it up through the workspace room.
#[component]
fn QuickAdd(slug: String, who: RwSignal<String>) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let due = RwSignal::new(String::new());
    let add = Action::new(move |_: &()| {
        let slug = slug.clone();
        let mut fields = Fields::new();
        fields.insert("title".into(), Value::Text(title.get_untracked()));
        fields.insert("status".into(), Value::Text("to do".into()));
        fields.insert("due_date".into(), Value::Text(due.get_untracked()));
        fields.insert("assignee_id".into(), Value::Text(who.get_untracked()));
        async move { create_record(slug, KIND, fields).await }
    });
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_))) {
            title.set(String::new());
            due.set(String::new());
        }
    });
    view! {
        <form class="quick-add" aria-label="Quick add task" on:submit=move |ev| { ev.prevent_default(); add.dispatch(()); }>
            <Ready>
            <label>"New task"<input type="text" required maxlength="200" bind:value=title/></label>
            <label>"Due date"<input type="date" bind:value=due/></label>
            <button type="submit">"Add task"</button>
            </Ready>
        </form>
        <crate::components::ActionError result=add.value()/>
    }
}
