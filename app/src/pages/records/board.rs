//! The deals pipeline board: a column per stage, a deal moved by its stage control or
//! by dragging its card, live through the workspace room.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::records::{list_records, update_record};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, ActionError, PresenceIndicator, Ready};
use crate::error::AppError;
use crate::model::record::DEAL_STAGES;
use crate::model::{FieldChange, Page, Record, RecordKind, RecordQuery, SortDir, Value};
use crate::realtime::protocol::Room;
use crate::realtime::use_realtime;

use super::*;

/// The pipeline board: a column per stage with its newest deals; a deal moves to another
/// stage by its stage select or by dragging its card (both are an edit of `stage`).
#[component]
pub(super) fn DealBoard() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let can_write = ws.role.can_write();
    let refresh = RwSignal::new(0u32);
    let columns: Vec<(&'static str, PageResource)> = DEAL_STAGES
        .iter()
        .map(|stage| {
            let slug = slug.clone();
            let res = Resource::new(
                move || refresh.get(),
                move |_| {
                    let mut q = RecordQuery {
                        sort: Some("updated_at".into()),
                        dir: SortDir::Desc,
                        limit: 30,
                        ..Default::default()
                    };
                    q.filters
                        .insert("stage".into(), Value::Text(stage.to_string()));
                    list_records(slug.clone(), RecordKind::Deal, q)
                },
            );
            (*stage, res)
        })
        .collect();
    if let Some(rt) = use_realtime() {
        let listener = rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
            if affects(&ev, RecordKind::Deal) {
                refresh.update(|n| *n += 1);
            }
        });
        // The board is as new as its oldest column.
        let resources: Vec<PageResource> = columns.iter().map(|(_, r)| *r).collect();
        Effect::new(move |_| {
            let positions: Option<Vec<_>> = resources
                .iter()
                .map(|r| r.get().and_then(|p| p.ok()).and_then(|p| p.position))
                .collect();
            if let Some(oldest) =
                positions.and_then(|ps| ps.into_iter().min_by_key(|p| (p.epoch, p.offset)))
            {
                listener.resume(oldest);
            }
        });
    }
    let move_slug = slug.clone();
    let move_deal = Action::new(move |(id, from, to): &(i64, String, String)| {
        let mut changes = BTreeMap::new();
        changes.insert(
            "stage".to_string(),
            FieldChange {
                base: Value::Text(from.clone()),
                value: Value::Text(to.clone()),
            },
        );
        update_record(move_slug.clone(), RecordKind::Deal, *id, changes)
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = move_deal.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    let base = format!("/w/{slug}/deals");
    let board = columns
        .into_iter()
        .map(|(stage, res)| {
            let base = base.clone();
            let heading_id = format!("stage-{}", stage.to_lowercase());
            let on_drop = move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                let data = ev.data_transfer().and_then(|d| d.get_data("text/plain").ok()).unwrap_or_default();
                if let Some((id, from)) = data.split_once(':') {
                    if let (Ok(id), true) = (id.parse::<i64>(), from != stage) {
                        move_deal.dispatch((id, from.to_string(), stage.to_string()));
                    }
                }
            };
            let labelled_by = heading_id.clone();
            view! {
                <section class="column" aria-labelledby=labelled_by
                    on:dragover=move |ev: leptos::ev::DragEvent| ev.prevent_default()
                    on:drop=on_drop>
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || {
                            let base = base.clone();
                            let heading_id = heading_id.clone();
                            res.get().map(move |r| match r {
                                Err(e) => view! { <h2 id=heading_id>{stage}</h2><p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                                Ok(page) => view! {
                                    <h2 id=heading_id>{stage}" "<span class="count">{format!("({})", page.total)}</span></h2>
                                    <ul class="cards">
                                        {page.items.into_iter().map(|d| view! { <DealCard deal=d base=base.clone() can_write move_deal/> }).collect_view()}
                                    </ul>
                                }.into_any(),
                            })
                        }}
                    </Transition>
                </section>
            }
        })
        .collect_view();
    let board_path = format!("/w/{slug}/deals");
    view! {
        <header class="page-header">
            <h1>"Deals pipeline"</h1>
            <PresenceIndicator room=Room::Workspace(ws.workspace.id) label="Also on the board" page=board_path/>
        </header>
        <ActionError result=move_deal.value()/>
        <Ready><div class="board">{board}</div></Ready>
    }
}

/// A page of records loading from the server.
pub(super) type PageResource = Resource<Result<Page<Record>, AppError>>;

pub(super) type MoveAction = Action<(i64, String, String), Result<Record, AppError>>;

/// A deal on the board: code, customer, product, owner, value, and its stage control.
#[component]
pub(super) fn DealCard(
    deal: Record,
    base: String,
    can_write: bool,
    move_deal: MoveAction,
) -> impl IntoView {
    let code = deal.title();
    let stage = deal.get("stage").as_text().unwrap_or_default().to_string();
    let drag_data = format!("{}:{stage}", deal.id);
    let id = deal.id;
    let select_id = format!("deal-{id}-stage");
    let from = stage.clone();
    view! {
        <li class="card" draggable=if can_write { "true" } else { "false" }
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                if let Some(dt) = ev.data_transfer() { let _ = dt.set_data("text/plain", &drag_data); }
            }>
            <a href=format!("{base}/{id}")>{code.clone()}</a>
            <p>{deal.display("customer_id")}</p>
            <p class="meta">{deal.display("product_id")}" · "{deal.display("owner_id")}" "{deal.display("value")}</p>
            <label class="visually-hidden" for=select_id.clone()>{format!("Stage of deal {code}")}</label>
            <select id=select_id disabled=!can_write on:change=move |ev| {
                let to = event_target_value(&ev);
                if to != from { move_deal.dispatch((id, from.clone(), to)); }
            }>
                {DEAL_STAGES.iter().map(|s| view! { <option value=*s selected=*s == stage>{*s}</option> }).collect_view()}
            </select>
        </li>
    }
}
