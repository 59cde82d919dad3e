//! `/w/{slug}/dashboard`, the workspace's landing page: the viewer's day (their open
//! tasks, today's and overdue calls, meetings of the coming week), who is online, the
//! workspace's live activity (who did what, filtered, grouped, exported) and, for admins,
//! announcements to everyone. Everything on it is live.

use leptos::prelude::*;

use crate::api::calendar::list_free_slots;
use crate::api::notifications::announce;
use crate::api::workspaces::WorkspaceView;
use crate::components::{
    error_message, local_clock, local_day_label, local_day_start, ActionError, ActivityFeed,
    AfterHydration, LocalTime, PresenceIndicator, Ready,
};
use crate::model::activity::FeedType;
use crate::model::notify::Priority;
use crate::model::{now_ms, Record, RecordKind, RecordQuery, Value};
use crate::pages::records::live_records;
use crate::realtime::protocol::Room;
use crate::realtime::{use_realtime, RoomEvent};

/// The dashboard: the viewer's tasks, today's calls and upcoming meetings, who is
/// online, the announcement form (admins) and the workspace's activity feed.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let view = expect_context::<WorkspaceView>();
    let admin = view.role.can_admin();
    let slug = view.workspace.slug.clone();
    let room = Room::Workspace(view.workspace.id);
    view! {
        <header class="page-header"><h1>"Dashboard"</h1></header>
        <div class="my-day">
            <MyTasks slug=slug.clone() me=view.user.id/>
            <TodaysCalls slug=slug.clone() me=view.user.id/>
            <UpcomingMeetings slug=slug.clone() me=view.user.id/>
            <section aria-labelledby="online-heading">
                <h2 id="online-heading">"Online now"</h2>
                <PresenceIndicator room label="Online now" compact=false/>
            </section>
        </div>
        {admin.then(|| view! { <AnnounceForm slug=slug.clone()/> })}
        <section aria-labelledby="feed-heading">
            <h2 id="feed-heading">"Activity"</h2>
            <ActivityFeed feed_type=FeedType::Global/>
        </section>
    }
}

/// An admin's announcement to the workspace: a title, a message and whether it is urgent
/// (an urgent toast stays until dismissed).
#[component]
fn AnnounceForm(slug: String) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let urgent = RwSignal::new(false);
    let send = Action::new(move |_: &()| {
        let (slug, t, b) = (slug.clone(), title.get_untracked(), body.get_untracked());
        let priority = Some(if urgent.get_untracked() {
            Priority::Urgent
        } else {
            Priority::Info
        });
        async move { announce(slug, t, b, priority).await }
    });
    Effect::new(move |_| {
        if matches!(send.value().get(), Some(Ok(()))) {
            title.set(String::new());
            body.set(String::new());
        }
    });
    view! {
        <section class="announce" aria-labelledby="announce-heading">
            <h2 id="announce-heading">"Announce to the workspace"</h2>
            <form on:submit=move |ev| { ev.prevent_default(); send.dispatch(()); }>
                <Ready>
                <label>"Title"<input type="text" maxlength="200" required bind:value=title/></label>
                <label>"Message"<textarea rows="3" maxlength="2000" bind:value=body></textarea></label>
                <label><input type="checkbox" bind:checked=urgent/>" Urgent"</label>
                <button type="submit">"Announce"</button>
                </Ready>
            </form>
            <ActionError result=send.value()/>
            {move || matches!(send.value().get(), Some(Ok(()))).then(|| view! { <p role="status">"Announced."</p> })}
        </section>
    }
}

/// A short list of records on the dashboard: a heading, the rows (each a link with its
/// details), a link to everything, or what to say when there are none.
#[component]
fn DayList(
    /// The list's heading (its section is named by it).
    title: &'static str,
    /// Where the link to everything leads.
    all: String,
    /// That link's text ("All my tasks").
    all_label: &'static str,
    /// The rows: (link, text, details).
    rows: Vec<(String, String, AnyView)>,
    /// What an empty list says.
    empty: &'static str,
) -> impl IntoView {
    let id = format!("day-{}", title.to_lowercase().replace([' ', '\''], "-"));
    let labelled_by = id.clone();
    view! {
        <section class="day-list" aria-labelledby=labelled_by>
            <h2 id=id>{title}</h2>
            {if rows.is_empty() {
                view! { <p>{empty}</p> }.into_any()
            } else {
                view! {
                    <ul aria-label=title>
                        {rows.into_iter().map(|(href, text, details)| view! { <li><a href=href>{text}</a>" "{details}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <a href=all>{all_label}</a>
        </section>
    }
}

/// The viewer's open tasks (to do or in progress), soonest due first (at most 8).
#[component]
fn MyTasks(slug: String, me: i64) -> impl IntoView {
    // Open ones only, filtered in the database: to do, and in progress.
    let open = move |status: &str| {
        let mut q = RecordQuery {
            sort: Some("due_date".into()),
            limit: 8,
            ..Default::default()
        };
        q.filters.insert("assignee_id".into(), Value::Int(me));
        q.filters
            .insert("status".into(), Value::Text(status.into()));
        q
    };
    let to_do = live_records(RecordKind::Task, move || open("to do"));
    let started = live_records(RecordKind::Task, move || open("in progress"));
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let slug = slug.clone();
                Suspend::new(async move {
                    let (first, second) = (to_do.await, started.await);
                    match first.and_then(|a| Ok((a.items, second?.items))) {
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok((mut items, more)) => {
                            items.extend(more);
                            // By due date, none last.
                            items.sort_by_key(|t| t.get("due_date").as_text().map(str::to_string).unwrap_or_else(|| "9999".into()));
                            let rows = items.into_iter()
                                .take(8)
                                .map(|t: Record| {
                                    let due = t.get("due_date").as_text().map(|d| format!("due {d}")).unwrap_or_default();
                                    (format!("/w/{slug}/tasks/{}", t.id), t.title(), view! { <span class="meta">{due}</span> }.into_any())
                                })
                                .collect();
                            view! { <DayList title="My tasks" all=format!("/w/{slug}/my-tasks") all_label="All my tasks" rows empty="Nothing to do."/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

/// The viewer's scheduled calls of today and before (overdue), by time.
#[component]
fn TodaysCalls(slug: String, me: i64) -> impl IntoView {
    let calls = live_records(RecordKind::Call, move || {
        let mut q = RecordQuery {
            sort: Some("scheduled_at".into()),
            limit: 100,
            ..Default::default()
        };
        q.filters.insert("assignee_id".into(), Value::Int(me));
        q.filters
            .insert("status".into(), Value::Text("scheduled".into()));
        q
    });
    let slug = StoredValue::new(slug);
    // "Today" is the viewer's, so the list renders after hydration.
    view! {
        <AfterHydration>
        <Suspense fallback=|| ()>
            {move || {
                let slug = slug.get_value();
                Suspend::new(async move {
                    match calls.await {
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok(page) => {
                            let tomorrow = local_day_start(now_ms(), 1);
                            let rows = page.items.into_iter()
                                .filter(|c| c.get("scheduled_at").as_int().is_some_and(|at| at < tomorrow))
                                .map(|c| {
                                    let at = c.get("scheduled_at").as_int().unwrap_or_default();
                                    (format!("/w/{slug}/calls/{}", c.id), c.title(), view! { <LocalTime ms=at/> }.into_any())
                                })
                                .collect();
                            view! { <DayList title="Today's calls" all=format!("/w/{slug}/queue") all_label="Open the calls queue" rows empty="No calls today."/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
        </AfterHydration>
    }
}

/// The viewer's meetings of the next seven days, from their bookings; live.
#[component]
fn UpcomingMeetings(slug: String, me: i64) -> impl IntoView {
    let load_slug = slug.clone();
    let meetings = LocalResource::new(move || {
        let slug = load_slug.clone();
        async move {
            let now = now_ms();
            list_free_slots(slug, vec![me], now, local_day_start(now, 7), None).await
        }
    });
    if let Some(rt) = use_realtime() {
        let ws = expect_context::<WorkspaceView>().workspace.id;
        rt.listen(Room::Workspace(ws), move |ev| {
            if matches!(&ev, RoomEvent::Change(c, _) if c.kind() == Some(RecordKind::Meeting))
                || matches!(ev, RoomEvent::Resync)
            {
                meetings.refetch();
            }
        });
    }
    // Loaded in the browser only (the days are the viewer's), so rendered after hydration.
    let slug = StoredValue::new(slug);
    view! {
        <AfterHydration>
        <Suspense fallback=|| ()>
            {move || {
                let slug = slug.get_value();
                Suspend::new(async move {
                    match meetings.await {
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok(free) => {
                            let rows = free.busy.into_iter()
                                .filter_map(|b| {
                                    let (kind, id) = b.record?;
                                    let when = format!("{} {}", local_day_label(b.starts_at), local_clock(b.starts_at));
                                    Some((format!("/w/{slug}/{}/{id}", kind.path()), b.title.unwrap_or_default(), view! { <span class="meta">{when}</span> }.into_any()))
                                })
                                .collect();
                            view! { <DayList title="Upcoming meetings" all=format!("/w/{slug}/calendar") all_label="Open the calendar" rows empty="No meetings this week."/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
        </AfterHydration>
    }
}
