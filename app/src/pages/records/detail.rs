//! A record's page of any kind: heading, follow toggle, bookkeeping, the form, deletion,
//! live changes from colleagues, related records and the record's activity.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::records::{
    delete_record, get_record, list_form_choices, list_records, restore_record,
};
use crate::api::workspaces::WorkspaceView;
use crate::components::record_form::RemoteUpdate;
use crate::components::{
    error_message, ActionError, ActivityFeed, CollaborativeForm, FollowButton, PresenceIndicator,
    Ready, RecordForm,
};
use crate::error::AppError;
use crate::model::activity::FeedType;
use crate::model::record::Related;
use crate::model::{format_utc, Page, Record, RecordKind, RecordQuery};
use crate::realtime::protocol::{Change, Room};
use crate::realtime::{use_realtime, RoomEvent};

/// A record's page (or, at `.../new`, the form for a new one): heading, bookkeeping, the
/// form, deletion, and for a customer its deals.
#[component]
pub(super) fn RecordDetail(kind: RecordKind) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let load_slug = slug.clone();
    let data = Resource::new(id, move |id| {
        let slug = load_slug.clone();
        async move {
            let record_id = match id.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) if id == "new" => None,
                Err(_) => return Err(AppError::NotFound(format!("no such {}", kind.noun()))),
            };
            // Record, picker options and (for a customer) its deals load together: see
            // `filter_options` for why every call starts in the first poll.
            let record = async {
                match record_id {
                    Some(n) => get_record(slug.clone(), kind, n).await.map(Some),
                    None => Ok(None),
                }
            };
            // The related lists the kind declares (a customer's deals, calls, meetings
            // and tasks), together.
            let related = async {
                let Some(n) = record_id else {
                    return Ok(Vec::new());
                };
                let lists = kind.spec().related.iter().map(|rel| {
                    list_records(slug.clone(), rel.kind, RecordQuery::related(kind, rel, n))
                });
                futures::future::join_all(lists)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
            };
            let (choices, record, related) =
                futures::future::join3(list_form_choices(slug.clone()), record, related).await;
            Ok((record?, choices?, related?))
        }
    });
    let can_write = ws.role.can_write();
    let can_admin = ws.role.can_admin();
    let list_path = format!("/w/{slug}/{}", kind.path());
    // A deleted record opened later (from a link or the activity): admins bring it back
    // here, and the page then loads it.
    let restore_slug = slug.clone();
    let restore = Action::new(move |id: &i64| restore_record(restore_slug.clone(), kind, *id));
    Effect::new(move |_| {
        if let Some(Ok(_)) = restore.value().get() {
            data.refetch();
        }
    });
    view! {
        <p><a href=list_path.clone()>{format!("← All {}", kind.path())}</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let slug = slug.clone();
                let list_path = list_path.clone();
                Suspend::new(async move {
                    match data.await {
                        Err(AppError::Gone(note)) => view! {
                            <h1>{format!("Deleted {}", kind.noun())}</h1>
                            <div class="deleted" role="alert">
                                <p>{note}</p>
                                // Enabled once hydrated: a click before would be lost.
                                {can_admin.then(|| view! { <Ready>
                                    <button type="button" on:click=move |_| {
                                        if let Ok(id) = id().parse::<i64>() { restore.dispatch(id); }
                                    }>{format!("Restore {}", kind.noun())}</button>
                                </Ready> })}
                                <ActionError result=restore.value()/>
                            </div>
                        }.into_any(),
                        Err(e) => view! { <h1>"Not available"</h1><p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok((record, choices, related)) => {
                            let position = record.as_ref().map(|r| r.position);
                            let record = record.map(|r| r.record);
                            view! { <RecordView kind slug record position choices related can_write list_path/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
pub(super) fn RecordView(
    kind: RecordKind,
    slug: String,
    record: Option<Record>,
    /// The record room's position when `record` was read.
    position: Option<crate::realtime::protocol::Position>,
    choices: crate::api::records::FormChoices,
    /// The kind's related lists, in declaration order (empty for a new record).
    related: Vec<Page<Record>>,
    can_write: bool,
    list_path: String,
) -> impl IntoView {
    let current = RwSignal::new(record.clone());
    let navigate = use_navigate();
    let created_path = list_path.clone();
    let on_saved = Callback::new(move |r: Record| {
        if current.get_untracked().is_none() {
            navigate(&format!("{created_path}/{}", r.id), Default::default());
        }
        current.set(Some(r));
    });
    let heading = move || {
        current.with(|r| {
            r.as_ref()
                .map(Record::title)
                .unwrap_or_else(|| format!("New {}", kind.noun()))
        })
    };
    let meta = move || {
        current.with(|r| {
            r.as_ref().map(|r| {
                format!(
                    "Version {} · last changed {}",
                    r.version,
                    format_utc(r.updated_at)
                )
            })
        })
    };
    let delete_slug = slug.clone();
    let delete = Action::new(move |(id, version): &(i64, i64)| {
        delete_record(delete_slug.clone(), kind, *id, *version)
    });
    let confirm = RwSignal::new(false);
    let after_delete = list_path.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            crate::components::navigate_hard(&after_delete);
        }
    });
    let record_id = record.as_ref().map(|r| r.id);
    let can_admin = use_context::<WorkspaceView>().is_some_and(|w| w.role.can_admin());
    let restore_slug = slug.clone();
    let restore = Action::new(move |_: &()| {
        let slug = restore_slug.clone();
        async move { restore_record(slug, kind, record_id.unwrap_or_default()).await }
    });
    let restored_into = current;
    // Live: others' changes to this record reach the form; a deletion is announced.
    let remote = RwSignal::new(None::<RemoteUpdate>);
    // Who deleted the record and when, once it is deleted while the page is open.
    let deleted = RwSignal::new(None::<String>);
    let member_names = choices.members.clone();
    let discussion_members = choices.members.clone();
    let deletion_note = move |by: Option<i64>, at: Option<i64>| {
        let who = by
            .and_then(|id| member_names.iter().find(|m| m.id == id))
            .map(|m| m.title.clone())
            .unwrap_or_else(|| "Someone".into());
        match at {
            Some(at) => format!("{who} deleted this {} at {}.", kind.noun(), format_utc(at)),
            None => format!("{who} deleted this {}.", kind.noun()),
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(r)) = restore.value().get() {
            if restored_into.with_untracked(|c| c.as_ref().is_none_or(|c| r.version > c.version)) {
                restored_into.set(Some(r));
            }
            deleted.set(None);
        }
    });
    if let (Some(rt), Some(id)) = (use_realtime(), record_id) {
        let room = Room::Record(kind, id);
        let refetch_slug = slug.clone();
        let listener = StoredValue::new(None::<crate::realtime::RoomListener>);
        // Fetches the record whole (after a resync, or a patch that does not follow the
        // version held) and resumes the room from the position it was read at.
        let fetch_whole = move || {
            let slug = refetch_slug.clone();
            leptos::task::spawn_local(async move {
                match get_record(slug, kind, id).await {
                    Ok(r) => {
                        current.set(Some(r.record.clone()));
                        remote.set(Some(RemoteUpdate {
                            record: r.record,
                            by: "a colleague".into(),
                            mine: false,
                        }));
                        if let Some(l) = listener.get_value() {
                            l.resume(r.position);
                        }
                    }
                    Err(AppError::Gone(m)) => deleted.set(Some(m)),
                    Err(_) => {}
                }
            });
        };
        let listening = rt.listen(room, move |ev| match ev {
            RoomEvent::Change(c, _) => {
                let workspace = Room::Workspace(c.target().map_or(0, |(_, _, w)| w));
                let by = rt
                    .presence(room)
                    .get_untracked()
                    .into_iter()
                    .chain(rt.presence(workspace).get_untracked())
                    .find(|p| Some(p.user_id) == c.actor())
                    .map(|p| p.name)
                    .unwrap_or_else(|| "a colleague".into());
                // Each update is a patch on the record as the page holds it (its own saves
                // included), so the heading, the version and a delete follow it too.
                let Some(mut r) = current.get_untracked() else {
                    return;
                };
                if c.apply(&mut r) {
                    match &*c {
                        Change::Deleted { record: t, .. } => {
                            deleted.set(Some(deletion_note(t.deleted_by, t.deleted_at)))
                        }
                        Change::Restored { .. } => deleted.set(None),
                        _ => {}
                    }
                    current.set(Some(r.clone()));
                    remote.set(Some(RemoteUpdate {
                        record: r,
                        by,
                        mine: rt.me().get_untracked() == c.actor(),
                    }));
                } else if matches!(*c, Change::Updated { version, .. } if version > r.version + 1) {
                    // A change after a gap (one already held is skipped).
                    fetch_whole();
                }
            }
            RoomEvent::Resync => fetch_whole(),
            RoomEvent::Typing { .. } | RoomEvent::TakenOver { .. } => {}
        });
        listener.set_value(Some(listening));
        if let Some(position) = position {
            listening.resume(position);
        }
    }
    // A participant of a meeting answers its invitation here; someone added or taken off
    // while the page is open sees the answers come or go.
    let rsvp = (|| {
        let me = use_context::<WorkspaceView>().map(|w| w.user.id)?;
        let schedule = kind.spec().schedule.as_ref()?;
        let responses = schedule.responses?;
        let id = record_id?;
        let invited = Memo::new(move |_| {
            current.with(|r| {
                r.as_ref()
                    .is_some_and(|r| schedule.people(&r.fields).iter().any(|(u, _)| *u == me))
            })
        });
        let slug = slug.clone();
        Some(move || {
            invited.get().then(|| view! {
                <crate::components::RsvpBar slug=slug.clone() kind id me field=responses record=current/>
            })
        })
    })();
    view! {
        <header class="page-header">
            <h1>{heading}</h1>
            {(!can_write).then(|| view! { <span class="badge">"Read only"</span> })}
            {record_id.map(|id| view! {
                <FollowButton slug=slug.clone() kind id/>
                <PresenceIndicator room=Room::Record(kind, id) label="Also here" compact=false/>
            })}
        </header>
        <p class="meta">{meta}</p>
        {move || deleted.get().map(|note| view! {
            <div class="deleted" role="alert">
                <p>{note}</p>
                {can_admin.then(|| view! {
                    <button type="button" on:click=move |_| { restore.dispatch(()); }>{format!("Restore {}", kind.noun())}</button>
                })}
                <ActionError result=restore.value()/>
            </div>
        })}
        {match record_id {
            Some(id) => view! {
                <CollaborativeForm form_id=format!("{}-form", kind.noun()) entity_type=kind entity_id=id slug=slug.clone()
                    record=current remote=Signal::from(remote) choices can_write/>
            }.into_any(),
            None => view! { <RecordForm slug=slug.clone() kind record choices can_write on_saved/> }.into_any(),
        }}
        {(can_write && record_id.is_some()).then(|| view! {
            <section class="danger-zone" aria-label="Delete"><Ready>
                <Show when=move || confirm.get() fallback=move || view! {
                    <button type="button" on:click=move |_| confirm.set(true)>{format!("Delete {}", kind.noun())}</button>
                }>
                    <p>{format!("Delete this {}? Colleagues will see it gone.", kind.noun())}</p>
                    <button type="button" class="danger" on:click=move |_| {
                        if let Some(r) = current.get_untracked() { delete.dispatch((r.id, r.version)); }
                    }>"Yes, delete"</button>
                    <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                </Show>
                <ActionError result=delete.value()/>
            </Ready></section>
        })}
        {rsvp}
        {related.into_iter().zip(kind.spec().related).map(|(page, related)| view! { <RelatedRecords slug=slug.clone() related page owner=kind/> }).collect_view()}
        {record_id.map(|id| view! {
            <section class="record-discussion" aria-labelledby="discussion-heading">
                <h2 id="discussion-heading">"Discussion"</h2>
                <crate::components::chat::ChatRoomView target=crate::model::chat::ChatTarget::Record(kind, id) members=discussion_members.clone()/>
            </section>
        })}
        {record_id.map(|id| view! {
            <section class="record-activity" aria-labelledby="activity-heading">
                <h2 id="activity-heading">"Activity"</h2>
                <ActivityFeed feed_type=FeedType::Record { kind, id }/>
            </section>
        })}
    }
}

/// Records of another kind that point at this one (a customer's deals), newest first (up
/// to 200), as the kind's spec declares them.
#[component]
pub(super) fn RelatedRecords(
    slug: String,
    related: &'static Related,
    page: Page<Record>,
    owner: RecordKind,
) -> impl IntoView {
    let kind = related.kind;
    let base = format!("/w/{slug}/{}", kind.path());
    let heading_id = format!("related-{}", kind.path());
    let labelled_by = heading_id.clone();
    let plural = related.title.to_ascii_lowercase();
    let columns = related.columns;
    let body = if page.items.is_empty() {
        view! { <p>{format!("No {plural} yet.")}</p> }.into_any()
    } else {
        view! {
            <p class="count">{format!(
                "{} {plural}{}",
                page.total_text(),
                if page.next.is_some() { format!(", the newest {} shown", page.items.len()) } else { String::new() }
            )}</p>
            <table class="records" aria-label=format!("{} of this {}", related.title, owner.noun())>
                <thead><tr>
                    <th scope="col">{kind.field(kind.title_field()).map(|d| d.caption)}</th>
                    {columns.iter().map(|c| view! { <th scope="col">{kind.field(c).map(|d| d.caption)}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {page.items.into_iter().map(|r| view! {
                        <tr>
                            <td><a href=format!("{base}/{}", r.id)>{r.title()}</a></td>
                            {columns.iter().map(|c| view! { <td>{r.display(c)}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby=labelled_by>
            <h2 id=heading_id>{related.title}</h2>
            {body}
        </section>
    }
}
