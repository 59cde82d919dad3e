//! Record pages for every kind through one set of components: a list with search,
//! filters, sort and paging (state in the URL query), a detail page with the record form,
//! related records, and the deals pipeline board.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::records::{
    delete_record, get_record, list_field_values, list_form_choices, list_records, update_record,
};
use crate::api::workspaces::WorkspaceView;
use crate::components::record_form::RemoteUpdate;
use crate::components::{error_message, ActionError, PresenceIndicator, Ready, RecordForm};
use crate::error::AppError;
use crate::model::record::DEAL_STAGES;
use crate::model::{
    format_utc, Choice, FieldChange, FieldKind, Page, Record, RecordKind, RecordQuery, SortDir,
    Value,
};
use crate::realtime::protocol::{Change, Room};
use crate::realtime::{use_realtime, RoomEvent};

/// Rows per list page.
const PAGE_SIZE: i64 = 50;

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Builds `?k=v&...` from pairs, leaving out empty values.
fn query_string(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// `/w/{slug}/customers`: the customer list.
#[component]
pub fn CustomersPage() -> impl IntoView {
    view! {
        <RecordList
            kind=RecordKind::Customer
            title="Customers"
            columns=&["name", "sector", "owner_id", "office_location", "revenue", "employees"]
            filters=&["sector", "owner_id"]
        />
    }
}

/// `/w/{slug}/deals`: the pipeline board (default) or the deal list (`?view=list`).
#[component]
pub fn DealsPage() -> impl IntoView {
    let query = use_query_map();
    let slug = expect_context::<WorkspaceView>().workspace.slug;
    let list = move || query.with(|q| q.get("view")).as_deref() == Some("list");
    let base = format!("/w/{slug}/deals");
    view! {
        <nav class="view-switch" aria-label="Deal views">
            <A href=format!("{base}?view=board") attr:aria-current=move || (!list()).then_some("page")>"Board"</A>
            <A href=format!("{base}?view=list") attr:aria-current=move || list().then_some("page")>"List"</A>
        </nav>
        {move || if list() {
            view! {
                <RecordList
                    kind=RecordKind::Deal
                    title="Deals"
                    columns=&["code", "customer_id", "product_id", "stage", "owner_id", "value", "close_date"]
                    filters=&["stage", "owner_id"]
                />
            }.into_any()
        } else {
            view! { <DealBoard/> }.into_any()
        }}
    }
}

/// Whether a workspace event changes what a list or board of `kind` shows.
fn affects(ev: &RoomEvent, kind: RecordKind) -> bool {
    match ev {
        RoomEvent::Resync => true,
        RoomEvent::Change(c) => c.kind() == Some(kind),
    }
}

/// Options of a list's filter selects: field -> (value, label).
type FilterOptions = BTreeMap<String, Vec<(String, String)>>;

/// Loads the options of each filter field: a choice field's choices, a text field's
/// distinct values, members, or referenced records.
///
/// Every server call a loader makes starts in its first poll (joined, not one after the
/// other): during server rendering, context is only reliably there until a loader's
/// first real await.
async fn filter_options(
    slug: String,
    kind: RecordKind,
    fields: &'static [&'static str],
) -> Result<FilterOptions, AppError> {
    let text_fields: Vec<&'static str> = fields
        .iter()
        .copied()
        .filter(|f| {
            matches!(
                kind.field(f).map(|d| d.kind),
                Some(FieldKind::Text { .. } | FieldKind::Tags)
            )
        })
        .collect();
    let values = futures::future::join_all(
        text_fields
            .iter()
            .map(|f| list_field_values(slug.clone(), kind, f.to_string())),
    );
    let (choices, values) =
        futures::future::join(list_form_choices(slug.clone(), kind), values).await;
    let choices = choices?;
    let mut texts = BTreeMap::new();
    for (f, v) in text_fields.into_iter().zip(values) {
        texts.insert(f, v?);
    }
    let pairs = |list: Vec<Choice>| {
        list.into_iter()
            .map(|c| (c.id.to_string(), c.label))
            .collect::<Vec<_>>()
    };
    let mut out = FilterOptions::new();
    for name in fields {
        let Some(def) = kind.field(name) else {
            continue;
        };
        let options = match def.kind {
            FieldKind::Choice(options) => options
                .iter()
                .map(|o| (o.to_string(), o.to_string()))
                .collect(),
            FieldKind::Member => pairs(choices.members.clone()),
            FieldKind::Ref(target) => {
                pairs(choices.records.get(&target).cloned().unwrap_or_default())
            }
            _ => texts
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .map(|v| (v.clone(), v))
                .collect(),
        };
        out.insert(name.to_string(), options);
    }
    Ok(out)
}

/// A searchable, filterable, sortable, paged list of a kind's records. The query lives in
/// the URL (`q`, one parameter per filter field, `sort`, `dir`, `page`), so it survives
/// reloads and the back button.
#[component]
pub fn RecordList(
    /// Kind listed.
    kind: RecordKind,
    /// Page heading.
    title: &'static str,
    /// Fields shown as columns; the first links to the record.
    columns: &'static [&'static str],
    /// Fields offered as filters.
    filters: &'static [&'static str],
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let query = use_query_map();
    let param = move |k: &str| query.with(|q| q.get(k)).unwrap_or_default();
    let record_query = Memo::new(move |_| {
        let mut filter_values = BTreeMap::new();
        for name in filters {
            let v = param(name);
            if let (false, Some(def)) = (v.is_empty(), kind.field(name)) {
                filter_values.insert(
                    name.to_string(),
                    def.normalize(Value::Text(v)).unwrap_or(Value::Null),
                );
            }
        }
        let page: i64 = param("page").parse().unwrap_or(1).max(1);
        RecordQuery {
            search: Some(param("q")).filter(|s| !s.is_empty()),
            filters: filter_values,
            sort: Some(param("sort")).filter(|s| !s.is_empty()),
            dir: if param("dir") == "desc" {
                SortDir::Desc
            } else {
                SortDir::Asc
            },
            offset: (page - 1) * PAGE_SIZE,
            limit: PAGE_SIZE,
        }
    });
    let list_slug = slug.clone();
    let rows = Resource::new(
        move || record_query.get(),
        move |q| list_records(list_slug.clone(), kind, q),
    );
    // Live: any change to this kind in the workspace (or an import) reloads the page of
    // rows; the query, and so what the user typed in the filters, stays. The rows come
    // with the room's position, so nothing committed after them is missed.
    if let Some(rt) = use_realtime() {
        let listener = rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
            if affects(&ev, kind) {
                rows.refetch();
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(Some(position))) = rows.get().map(|r| r.map(|p| p.position)) {
                listener.resume(position);
            }
        });
    }
    let options_slug = slug.clone();
    let options = Resource::new(
        || (),
        move |_| filter_options(options_slug.clone(), kind, filters),
    );
    let base = format!("/w/{slug}/{}", kind.path());

    // Every parameter but `skip`, for links that change one of them.
    let keep = move |skip: &[&str]| -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = vec![("q", param("q"))];
        pairs.extend(filters.iter().map(|f| (*f, param(f))));
        pairs.extend([
            ("sort", param("sort")),
            ("dir", param("dir")),
            ("page", param("page")),
        ]);
        if let Some(v) = Some(param("view")).filter(|v| !v.is_empty()) {
            pairs.push(("view", v));
        }
        pairs
            .into_iter()
            .filter(|(k, _)| !skip.contains(k))
            .collect()
    };
    let sort_link = {
        let base = base.clone();
        move |field: &str| {
            let desc = param("sort") == field && param("dir") != "desc";
            let mut pairs = keep(&["sort", "dir", "page"]);
            pairs.push(("sort", field.to_string()));
            pairs.push(("dir", if desc { "desc".into() } else { String::new() }));
            format!("{base}{}", query_string(&pairs))
        }
    };
    let page_link = {
        let base = base.clone();
        move |page: i64| {
            let mut pairs = keep(&["page"]);
            pairs.push((
                "page",
                if page > 1 {
                    page.to_string()
                } else {
                    String::new()
                },
            ));
            format!("{base}{}", query_string(&pairs))
        }
    };

    let headers = move || {
        columns
            .iter()
            .map(|name| {
                let label = kind.field(name).map(|d| d.label).unwrap_or(name);
                let sorted = param("sort") == *name
                    || (param("sort").is_empty() && *name == kind.label_field());
                let sort = sorted.then(|| {
                    if param("dir") == "desc" {
                        "descending"
                    } else {
                        "ascending"
                    }
                });
                view! { <th scope="col" aria-sort=sort><a href=sort_link(name)>{label}</a></th> }
            })
            .collect_view()
            .into_any()
    };

    let filter_controls = move || {
        options.get().map(|o| {
            let o = o.unwrap_or_default();
            filters
                .iter()
                .map(|name| {
                    let label = kind.field(name).map(|d| d.label).unwrap_or(name);
                    let id = format!("filter-{name}");
                    let current = param(name);
                    let opts = o
                        .get(*name)
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(value, text)| {
                            let selected = value == current;
                            view! { <option value=value selected=selected>{text}</option> }
                        })
                        .collect_view();
                    view! {
                        <label for=id.clone()>{label}</label>
                        <select id=id name=*name>
                            <option value="">"Any"</option>
                            {opts}
                        </select>
                    }
                })
                .collect_view()
        })
    };

    let can_write = ws.role.can_write();
    let new_link = format!("{base}/new");
    let row_base = base.clone();
    let workspace_room = Room::Workspace(ws.workspace.id);
    view! {
        <header class="page-header">
            <h1>{title}</h1>
            <PresenceIndicator room=workspace_room label="Also on this list" page=base.clone()/>
            {can_write.then(|| view! { <a class="button primary" href=new_link>{format!("New {}", kind.noun())}</a> })}
        </header>
        <Form method="GET" action=base.clone()>
            <div class="filters">
                <label for="list-search">"Search"</label>
                <input id="list-search" type="search" name="q" value=param("q")/>
                <Transition fallback=|| ()>{filter_controls}</Transition>
                {(!param("view").is_empty()).then(|| view! { <input type="hidden" name="view" value=param("view")/> })}
                <button type="submit">"Search"</button>
            </div>
        </Form>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let row_base = row_base.clone();
                let page_link = page_link.clone();
                let headers = headers.clone();
                rows.get().map(move |result| match result {
                    Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    Ok(page) => view! { <RecordTable page columns base=row_base headers=headers() title page_link/> }.into_any(),
                })
            }}
        </Transition>
    }
}

/// The rows of a list page, its count and its paging links.
#[component]
fn RecordTable(
    page: Page<Record>,
    columns: &'static [&'static str],
    base: String,
    headers: AnyView,
    title: &'static str,
    page_link: impl Fn(i64) -> String + 'static,
) -> impl IntoView {
    let current = page.offset / page.limit.max(1) + 1;
    let pages = ((page.total + page.limit - 1) / page.limit.max(1)).max(1);
    let noun = page
        .items
        .first()
        .map(|r| r.kind.noun())
        .unwrap_or("record");
    let count = format!(
        "{} {}{}",
        page.total,
        noun,
        if page.total == 1 { "" } else { "s" }
    );
    let rows = page
        .items
        .into_iter()
        .map(|r| {
            let cells = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let text = r.display(c);
                    if i == 0 {
                        let text = if text.is_empty() { r.title() } else { text };
                        view! { <td><a href=format!("{base}/{}", r.id)>{text}</a></td> }.into_any()
                    } else {
                        view! { <td>{text}</td> }.into_any()
                    }
                })
                .collect_view();
            view! { <tr>{cells}</tr> }
        })
        .collect_view();
    view! {
        <p class="count" role="status">{count}</p>
        <table class="records" aria-label=title>
            <thead><tr>{headers}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(current > 1).then(|| view! { <a href=page_link(current - 1) rel="prev">"Previous page"</a> })}
            <span>{format!("Page {current} of {pages}")}</span>
            {(current < pages).then(|| view! { <a href=page_link(current + 1) rel="next">"Next page"</a> })}
        </nav>
    }
}

/// `/w/{slug}/customers/{id}`: a customer, its form and its deals.
#[component]
pub fn CustomerPage() -> impl IntoView {
    view! { <RecordDetail kind=RecordKind::Customer/> }
}

/// `/w/{slug}/deals/{id}`: a deal and its form.
#[component]
pub fn DealPage() -> impl IntoView {
    view! { <RecordDetail kind=RecordKind::Deal/> }
}

/// A record's page (or, at `.../new`, the form for a new one): heading, bookkeeping, the
/// form, deletion, and for a customer its deals.
#[component]
fn RecordDetail(kind: RecordKind) -> impl IntoView {
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
            let related = async {
                match (record_id, kind) {
                    (Some(n), RecordKind::Customer) => {
                        let mut q = RecordQuery {
                            sort: Some("updated_at".into()),
                            dir: SortDir::Desc,
                            limit: 200,
                            ..Default::default()
                        };
                        q.filters.insert("customer_id".into(), Value::Int(n));
                        list_records(slug.clone(), RecordKind::Deal, q)
                            .await
                            .map(Some)
                    }
                    _ => Ok(None),
                }
            };
            let (choices, record, related) =
                futures::future::join3(list_form_choices(slug.clone(), kind), record, related)
                    .await;
            Ok((record?, choices?, related?))
        }
    });
    let can_write = ws.role.can_write();
    let list_path = format!("/w/{slug}/{}", kind.path());
    view! {
        <p><a href=list_path.clone()>{format!("← All {}", kind.path())}</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let slug = slug.clone();
                let list_path = list_path.clone();
                Suspend::new(async move {
                    match data.await {
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
fn RecordView(
    kind: RecordKind,
    slug: String,
    record: Option<Record>,
    /// The record room's position when `record` was read.
    position: Option<crate::realtime::protocol::Position>,
    choices: crate::api::records::FormChoices,
    related: Option<Page<Record>>,
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
    // Live: others' changes to this record reach the form; a deletion is announced.
    let remote = RwSignal::new(None::<RemoteUpdate>);
    let deleted = RwSignal::new(false);
    if let (Some(rt), Some(id)) = (use_realtime(), record_id) {
        let room = Room::Record(kind, id);
        let refetch_slug = slug.clone();
        let listener = StoredValue::new(None::<crate::realtime::RoomListener>);
        let listening = rt.listen(room, move |ev| match ev {
            RoomEvent::Change(c) => {
                let workspace = Room::Workspace(c.record().map(|r| r.workspace_id).unwrap_or(0));
                let by = rt
                    .presence(room)
                    .get_untracked()
                    .into_iter()
                    .chain(rt.presence(workspace).get_untracked())
                    .find(|p| Some(p.user_id) == c.actor())
                    .map(|p| p.name)
                    .unwrap_or_else(|| "a colleague".into());
                match *c {
                    Change::Deleted { .. } => deleted.set(true),
                    Change::Created { record, actor, .. }
                    | Change::Updated { record, actor, .. } => {
                        remote.set(Some(RemoteUpdate {
                            record,
                            by,
                            mine: rt.me().get_untracked() == actor,
                        }));
                    }
                    _ => {}
                }
            }
            RoomEvent::Resync => {
                let slug = refetch_slug.clone();
                leptos::task::spawn_local(async move {
                    match get_record(slug, kind, id).await {
                        Ok(r) => {
                            remote.set(Some(RemoteUpdate {
                                record: r.record,
                                by: "a colleague".into(),
                                mine: false,
                            }));
                            if let Some(l) = listener.get_value() {
                                l.resume(r.position);
                            }
                        }
                        Err(AppError::NotFound(_)) => deleted.set(true),
                        Err(_) => {}
                    }
                });
            }
        });
        listener.set_value(Some(listening));
        if let Some(position) = position {
            listening.resume(position);
        }
    }
    view! {
        <header class="page-header">
            <h1>{heading}</h1>
            {(!can_write).then(|| view! { <span class="badge">"Read only"</span> })}
            {record_id.map(|id| view! {
                <PresenceIndicator room=Room::Record(kind, id) label="Also here" compact=false/>
            })}
        </header>
        <p class="meta">{meta}</p>
        <Show when=move || deleted.get()>
            <p class="error" role="alert">{format!("Someone deleted this {} while you were here.", kind.noun())}</p>
        </Show>
        <RecordForm slug=slug.clone() kind record choices can_write on_saved remote=remote/>
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
        {related.map(|page| view! { <RelatedDeals slug=slug.clone() page/> })}
    }
}

/// A customer's deals, newest first (up to 200).
#[component]
fn RelatedDeals(slug: String, page: Page<Record>) -> impl IntoView {
    let base = format!("/w/{slug}/deals");
    let body = if page.items.is_empty() {
        view! { <p>"No deals yet."</p> }.into_any()
    } else {
        view! {
            <p class="count">{format!("{} deals", page.total)}</p>
            <table class="records" aria-label="Deals of this customer">
                <thead><tr><th scope="col">"Opportunity"</th><th scope="col">"Product"</th><th scope="col">"Stage"</th><th scope="col">"Owner"</th><th scope="col">"Value"</th></tr></thead>
                <tbody>
                    {page.items.into_iter().map(|d| view! {
                        <tr>
                            <td><a href=format!("{base}/{}", d.id)>{d.title()}</a></td>
                            <td>{d.display("product_id")}</td>
                            <td>{d.display("stage")}</td>
                            <td>{d.display("owner_id")}</td>
                            <td>{d.display("value")}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="deals-heading">
            <h2 id="deals-heading">"Deals"</h2>
            {body}
        </section>
    }
}

/// The pipeline board: a column per stage with its newest deals; a deal moves to another
/// stage by its stage select or by dragging its card (both are an edit of `stage`).
#[component]
fn DealBoard() -> impl IntoView {
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
type PageResource = Resource<Result<Page<Record>, AppError>>;

type MoveAction = Action<(i64, String, String), Result<Record, AppError>>;

/// A deal on the board: code, customer, product, owner, value, and its stage control.
#[component]
fn DealCard(deal: Record, base: String, can_write: bool, move_deal: MoveAction) -> impl IntoView {
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
