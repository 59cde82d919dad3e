//! A list of any kind's records: search, filters, sort and paging, with the query in
//! the URL so it survives reloads and the back button; live through the workspace room.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::records::{list_field_values, list_form_choices};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, LocalTime, PresenceIndicator};
use crate::error::AppError;
use crate::model::{Choice, FieldKind, Page, Record, RecordKind, RecordQuery, SortDir, Value};
use crate::realtime::protocol::Room;

use super::*;

/// Rows per list page.
pub(super) const PAGE_SIZE: i64 = 50;

/// Builds `?k=v&...` from pairs, leaving out empty values.
pub(super) fn query_string(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", crate::model::percent_encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Options of a list's filter selects: field -> (value, text shown).
pub(super) type FilterOptions = BTreeMap<String, Vec<(String, String)>>;

/// Loads the options of each filter field: a choice field's choices, a text field's
/// distinct values, or members. (A kind's spec never filters by a reference: a select
/// cannot hold a hundred thousand customers.)
///
/// Every server call a loader makes starts in its first poll (joined, not one after the
/// other): during server rendering, context is only reliably there until a loader's
/// first real await.
pub(super) async fn filter_options(
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
    let (choices, values) = futures::future::join(list_form_choices(slug.clone()), values).await;
    let choices = choices?;
    let mut texts = BTreeMap::new();
    for (f, v) in text_fields.into_iter().zip(values) {
        texts.insert(f, v?);
    }
    let pairs = |list: Vec<Choice>| {
        list.into_iter()
            .map(|c| (c.id.to_string(), c.title))
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
    /// Kind listed; its [`KindSpec`](crate::model::record::KindSpec) gives the heading,
    /// columns and filters.
    kind: RecordKind,
) -> impl IntoView {
    let spec = kind.spec();
    let (title, columns, filters) = (spec.plural, spec.list.columns, spec.list.filters);
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
        RecordQuery {
            search: Some(param("q")).filter(|s| !s.is_empty()),
            filters: filter_values,
            sort: Some(param("sort")).filter(|s| !s.is_empty()),
            dir: if param("dir") == "desc" {
                SortDir::Desc
            } else {
                SortDir::Asc
            },
            after: Some(param("after")).filter(|s| !s.is_empty()),
            before: Some(param("before")).filter(|s| !s.is_empty()),
            limit: PAGE_SIZE,
        }
    });
    // Live: any change to this kind in the workspace (or an import) reloads the page of
    // rows; the query, and so what the user typed in the filters, stays.
    let rows = live_records(kind, move || record_query.get());
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
            ("after", param("after")),
            ("before", param("before")),
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
            let mut pairs = keep(&["sort", "dir", "after", "before"]);
            pairs.push(("sort", field.to_string()));
            pairs.push(("dir", if desc { "desc".into() } else { String::new() }));
            format!("{base}{}", query_string(&pairs))
        }
    };
    // A page is a keyset cursor: `after` the last row of this page or `before` its first.
    let page_link = {
        let base = base.clone();
        move |(name, cursor): (&'static str, String)| {
            let mut pairs = keep(&["after", "before"]);
            pairs.push((name, cursor));
            format!("{base}{}", query_string(&pairs))
        }
    };

    let headers = move || {
        columns
            .iter()
            .map(|name| {
                let caption = kind.field(name).map(|d| d.caption).unwrap_or(name);
                let sorted = param("sort") == *name
                    || (param("sort").is_empty() && *name == kind.spec().default_sort);
                let sort = sorted.then(|| {
                    if param("dir") == "desc" {
                        "descending"
                    } else {
                        "ascending"
                    }
                });
                view! { <th scope="col" aria-sort=sort><a href=sort_link(name)>{caption}</a></th> }
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
                    let caption = kind.field(name).map(|d| d.caption).unwrap_or(name);
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
                        <label for=id.clone()>{caption}</label>
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
        <form method="get" action=base.clone() on:submit=search_in_place(base.clone())>
            <div class="filters">
                <label for="list-search">"Search"</label>
                <input id="list-search" type="search" name="q" value=move || param("q")/>
                <Transition fallback=|| ()>{filter_controls}</Transition>
                {move || (!param("view").is_empty()).then(|| view! { <input type="hidden" name="view" value=param("view")/> })}
                <button type="submit">"Search"</button>
            </div>
        </form>
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

/// Submits a search form (`method="get"`) by navigating in the app to `action` with the
/// form's fields as the query, as the browser would without the WASM but without loading
/// the page again. (leptos_router's `Form` does the same, and brings Unicode lower-casing
/// tables into the first page's WASM with it.)
fn search_in_place(action: String) -> impl Fn(web_sys::SubmitEvent) + 'static {
    let navigate = use_navigate();
    move |ev: web_sys::SubmitEvent| {
        use wasm_bindgen::JsCast;
        if ev.default_prevented() {
            return;
        }
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Ok(query) = web_sys::FormData::new_with_form(&form)
            .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data))
        else {
            return; // the browser submits the form itself
        };
        ev.prevent_default();
        navigate(
            &format!("{action}?{}", String::from(query.to_string())),
            Default::default(),
        );
    }
}

/// The rows of a list page, its count and its paging links.
#[component]
pub(super) fn RecordTable(
    page: Page<Record>,
    columns: &'static [&'static str],
    base: String,
    headers: AnyView,
    title: &'static str,
    /// The link to a page: (`"after"` or `"before"`, cursor).
    page_link: impl Fn((&'static str, String)) -> String + 'static,
) -> impl IntoView {
    let noun = page
        .items
        .first()
        .map(|r| r.kind.noun())
        .unwrap_or("record");
    let count = format!(
        "{} {}{}",
        page.total_text(),
        noun,
        if page.total == 1 && !page.total_capped {
            ""
        } else {
            "s"
        }
    );
    let prev = page.prev.clone().map(|c| page_link(("before", c)));
    let next = page.next.clone().map(|c| page_link(("after", c)));
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
                    } else if let (Some(FieldKind::DateTime), Value::Int(ms)) =
                        (r.kind.field(c).map(|d| d.kind), r.get(c))
                    {
                        let ms = *ms;
                        view! { <td><LocalTime ms/></td> }.into_any()
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
            {prev.map(|href| view! { <a href=href rel="prev">"Previous page"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Next page"</a> })}
        </nav>
    }
}
