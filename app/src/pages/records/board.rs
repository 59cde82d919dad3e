//! A kind's board, as its spec declares it (the deals pipeline): a column per option of a
//! choice field, a record moved by its control or by dragging its card, live through the
//! workspace room.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::records::{list_board_totals, list_records, update_record};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, ActionError, PresenceIndicator, Ready};
use crate::error::AppError;
use crate::model::record::BoardSpec;
use crate::model::{FieldChange, FieldKind, Page, Record, RecordKind, RecordQuery, Value};
use crate::realtime::protocol::Room;
use crate::realtime::use_realtime;

use super::*;

/// The board of `kind`, if its spec declares one: a column per option of the board's
/// field with its newest records; a record moves to another column by its select or by
/// dragging its card (both are an edit of that field).
#[component]
pub(super) fn Board(kind: RecordKind) -> impl IntoView {
    let Some(spec) = kind.spec().board.as_ref() else {
        return ().into_any();
    };
    let options: &'static [&'static str] = match kind.field(spec.field).map(|d| d.kind) {
        Some(FieldKind::Choice(options)) => options,
        _ => &[],
    };
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let can_write = ws.role.can_write();
    let move_slug = slug.clone();
    let move_record = Action::new(move |(id, from, to): &(i64, String, String)| {
        let mut changes = BTreeMap::new();
        changes.insert(
            spec.field.to_string(),
            FieldChange {
                base: Value::Text(from.clone()),
                value: Value::Text(to.clone()),
            },
        );
        update_record(move_slug.clone(), kind, *id, changes, None, None)
    });
    // Each column reloads after each move made here (the action's version), and on live
    // changes from elsewhere.
    let columns: Vec<(&'static str, PageResource)> = options
        .iter()
        .map(|stage| {
            let slug = slug.clone();
            let res = Resource::new(
                move || move_record.version().get(),
                move |_| list_records(slug.clone(), kind, RecordQuery::board_column(spec, stage)),
            );
            (*stage, res)
        })
        .collect();
    // Each column's count and amount over all its records, from the database.
    let totals_slug = slug.clone();
    let totals = Resource::new(
        move || move_record.version().get(),
        move |_| list_board_totals(totals_slug.clone(), kind),
    );
    if let Some(rt) = use_realtime() {
        let live: Vec<PageResource> = columns.iter().map(|(_, r)| *r).collect();
        let listener = rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
            if affects(&ev, kind) {
                for r in &live {
                    r.refetch();
                }
                totals.refetch();
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
    let base = format!("/w/{slug}/{}", kind.path());
    let board = columns
        .into_iter()
        .map(|(stage, res)| {
            let base = base.clone();
            let heading_id = format!("{}-{}", spec.field, stage.to_ascii_lowercase());
            let on_drop = move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                let data = ev.data_transfer().and_then(|d| d.get_data("text/plain").ok()).unwrap_or_default();
                if let Some((id, from)) = data.split_once(':') {
                    if let (Ok(id), true) = (id.parse::<i64>(), from != stage) {
                        move_record.dispatch((id, from.to_string(), stage.to_string()));
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
                                    <h2 id=heading_id>{stage}" "<span class="count">{column_total(totals, spec, kind, stage, &page)}</span></h2>
                                    <ul class="cards">
                                        {page.items.into_iter().map(|r| view! { <Card record=r spec options base=base.clone() can_write move_record/> }).collect_view()}
                                    </ul>
                                }.into_any(),
                            })
                        }}
                    </Transition>
                </section>
            }
        })
        .collect_view();
    let board_path = format!("/w/{slug}/{}", kind.path());
    view! {
        <header class="page-header">
            <h1>{spec.title}</h1>
            <PresenceIndicator room=Room::Workspace(ws.workspace.id) label="Also on the board" page=board_path/>
        </header>
        <ActionError result=move_record.value()/>
        <Ready><div class="board">{board}</div></Ready>
    }
    .into_any()
}

/// A column's heading figures: "(1,234 · $5,678,900)" from the board's totals, or the
/// count of its list page until they load.
fn column_total(
    totals: Resource<Result<Vec<crate::model::BoardTotal>, AppError>>,
    spec: &'static BoardSpec,
    kind: RecordKind,
    stage: &'static str,
    page: &Page<Record>,
) -> String {
    let total = totals
        .get()
        .and_then(Result::ok)
        .and_then(|t| t.into_iter().find(|t| t.column == stage));
    let Some(total) = total else {
        return format!("({})", page.total_text());
    };
    let count = crate::model::count_text(total.count, false);
    match spec.amount.and_then(|a| kind.field(a)) {
        Some(def) => format!(
            "({count} · {})",
            def.format_display(&Value::Int(total.amount), None)
        ),
        None => format!("({count})"),
    }
}

/// A page of records loading from the server.
pub(super) type PageResource = Resource<Result<Page<Record>, AppError>>;

pub(super) type MoveAction = Action<(i64, String, String), Result<Record, AppError>>;

/// A record on a board: its title, the board's subtitle and meta fields, and the control
/// that moves it to another column.
#[component]
pub(super) fn Card(
    record: Record,
    spec: &'static BoardSpec,
    options: &'static [&'static str],
    base: String,
    can_write: bool,
    move_record: MoveAction,
) -> impl IntoView {
    let title = record.title();
    let column = record
        .get(spec.field)
        .as_text()
        .unwrap_or_default()
        .to_string();
    let drag_data = format!("{}:{column}", record.id);
    let id = record.id;
    let kind = record.kind;
    let select_id = format!("{}-{id}-{}", kind.noun(), spec.field);
    let control_label = format!(
        "{} of {} {title}",
        kind.field(spec.field).map_or(spec.field, |d| d.caption),
        kind.noun()
    );
    let meta = spec
        .meta
        .iter()
        .map(|f| record.display(f))
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let from = column.clone();
    view! {
        <li class="card" draggable=if can_write { "true" } else { "false" }
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                if let Some(dt) = ev.data_transfer() { let _ = dt.set_data("text/plain", &drag_data); }
            }>
            <a href=format!("{base}/{id}")>{title.clone()}</a>
            <p>{record.display(spec.subtitle)}</p>
            <p class="meta">{meta}</p>
            <label class="visually-hidden" for=select_id.clone()>{control_label}</label>
            <select id=select_id disabled=!can_write on:change=move |ev| {
                let to = event_target_value(&ev);
                if to != from { move_record.dispatch((id, from.clone(), to)); }
            }>
                {options.iter().map(|s| view! { <option value=*s selected=*s == column>{*s}</option> }).collect_view()}
            </select>
        </li>
    }
}
