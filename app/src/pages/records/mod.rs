//! Record pages for every kind through one set of components: a list with search,
//! filters, sort and paging (state in the URL query), a detail page with the record form,
//! related records, and the deals pipeline board.

mod board;
mod detail;
mod list;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::workspaces::WorkspaceView;
use crate::model::RecordKind;
use crate::realtime::RoomEvent;

use board::*;
use list::*;

use detail::RecordDetail;

/// The kind named by the route's `:kind` segment (`customers`, `deals`, `products`).
fn route_kind() -> Memo<Option<RecordKind>> {
    let params = use_params_map();
    Memo::new(move |_| {
        params
            .with(|p| p.get("kind"))
            .and_then(|k| RecordKind::from_path(&k))
    })
}

/// What a `/w/{slug}/{kind}` or `/w/{slug}/{kind}/{id}` path that names no kind shows.
fn no_such_kind() -> AnyView {
    view! { <h1>"Not found"</h1><p class="error" role="alert">"There is no such page in this workspace."</p> }
        .into_any()
}

/// `/w/{slug}/{kind}`: any kind's records, from its [`KindSpec`](crate::model::record::KindSpec):
/// its board by default when it declares one (the deals pipeline), with a switch to the
/// list (`?view=list`); otherwise the list.
#[component]
pub fn KindPage() -> impl IntoView {
    let kind = route_kind();
    move || match kind.get() {
        None => no_such_kind(),
        Some(kind) if kind.spec().board.is_some() => view! { <BoardOrList kind/> }.into_any(),
        Some(kind) => view! { <RecordList kind/> }.into_any(),
    }
}

/// `/w/{slug}/{kind}/{id}` (or `.../new`): one record of any kind.
#[component]
pub fn RecordPage() -> impl IntoView {
    let kind = route_kind();
    move || match kind.get() {
        None => no_such_kind(),
        Some(kind) => view! { <RecordDetail kind/> }.into_any(),
    }
}

/// A kind with a board: the board, or the list at `?view=list`, with a switch between.
#[component]
fn BoardOrList(kind: RecordKind) -> impl IntoView {
    let query = use_query_map();
    let slug = expect_context::<WorkspaceView>().workspace.slug;
    let list = move || query.with(|q| q.get("view")).as_deref() == Some("list");
    let base = format!("/w/{slug}/{}", kind.path());
    let hydrated = crate::components::use_hydrated();
    // "Deal views".
    let mut label = format!("{} views", kind.noun());
    label[..1].make_ascii_uppercase();
    view! {
        <nav class="view-switch" aria-label=label>
            <A href=format!("{base}?view=board") attr:aria-current=move || (!list()).then_some("page")>"Board"</A>
            <A href=format!("{base}?view=list") attr:aria-current=move || list().then_some("page")>"List"</A>
        </nav>
        {move || if list() {
            view! { <RecordList kind/> }.into_any()
        } else if !hydrated.get_untracked() {
            // Rendered by the server, or hydrating: a `Suspend` of the page's own
            // `Suspense` (the workspace gate's). A `Suspense` of its own, nested in that
            // one, is streamed apart from the page by the server and did not hydrate.
            Suspend::new(lazy_board(kind)).into_any()
        } else {
            // Switched to in the browser: a `Suspense` of its own, so that while the
            // board's code is on its way only the board's place says so, instead of the
            // gate's fallback standing for the whole page.
            view! {
                <Suspense fallback=|| view! { <p role="status">"Loading the board…"</p> }>
                    {Suspend::new(lazy_board(kind))}
                </Suspense>
            }
            .into_any()
        }}
    }
}

/// The board of `kind`, in a WASM chunk of its own in a split build (`cargo leptos build
/// --split`): fetched when a board is first shown, or before hydration when a visit starts
/// on one, so that the first page (a list) does not carry it. `#[lazy]`, from
/// leptos-rs/leptos `examples/lazy_routes`.
#[lazy]
fn lazy_board(kind: RecordKind) -> AnyView {
    view! { <Board kind/> }.into_any()
}

/// Whether the page at `path` (`/w/{slug}/{kind}`) with query `search` (`?view=list`, or
/// empty) shows a board: a kind that declares one, not switched to its list. As the
/// router reads them, the kind and the query's names and values are percent-decoded
/// (so `d%65als` is `deals`), and the last `view` counts.
pub fn shows_board(path: &str, search: &str) -> bool {
    let mut parts = path.trim_matches('/').split('/');
    let kind = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("w"), Some(_), Some(kind), None) => RecordKind::from_path(&decoded(kind)),
        _ => None,
    };
    let view = search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (decoded(name) == "view").then(|| decoded(value))
        })
        .next_back();
    kind.is_some_and(|k| k.spec().board.is_some()) && view.as_deref() != Some("list")
}

/// `part` of a URL percent-decoded by leptos_router's own `Url::unescape` (the browser's
/// `decodeURIComponent`, or percent-encoding's decoder on the server), which the router
/// applies to what it matches; borrowed when there is nothing to decode.
fn decoded(part: &str) -> std::borrow::Cow<'_, str> {
    if part.contains('%') {
        leptos_router::location::Url::unescape(part).into()
    } else {
        part.into()
    }
}

/// In the browser, before hydration: loads the board's WASM chunk when the page shown is a
/// board ([`shows_board`]). The server rendered the board, and tachys' `Suspend` hydrates
/// only a future that is ready at once: one still loading its code would be rendered
/// anew beside the server's HTML instead of taking it over. `hydrate_lazy` loads a lazy
/// route's chunk first in the same way.
#[cfg(feature = "hydrate")]
pub async fn preload_for_hydration() {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return;
    };
    let path = location.pathname().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    if shows_board(&path, &search) {
        __preload_lazy_board().await;
    }
}

/// A page of `kind`'s records of the current workspace for `query` (re-run when the
/// signals it reads change), kept live: any change to the kind in the workspace (or a
/// resync) loads it again. The page comes with the workspace room's position, which the
/// listener resumes from, so nothing committed after it is missed. Lists, the calls queue,
/// My tasks and the dashboard all load through here.
pub(crate) fn live_records(
    kind: RecordKind,
    query: impl Fn() -> crate::model::RecordQuery + Send + Sync + 'static,
) -> Resource<Result<crate::model::Page<crate::model::Record>, crate::error::AppError>> {
    use crate::realtime::protocol::Room;
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let rows = Resource::new(query, move |q| {
        crate::api::records::list_records(slug.clone(), kind, q)
    });
    if let Some(rt) = crate::realtime::use_realtime() {
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
    rows
}

/// Whether a workspace event changes what a list or board of `kind` shows.
pub(super) fn affects(ev: &RoomEvent, kind: RecordKind) -> bool {
    match ev {
        RoomEvent::Resync => true,
        RoomEvent::Change(c, _) => c.kind() == Some(kind),
        RoomEvent::Typing { .. } | RoomEvent::TakenOver { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::shows_board;

    #[test]
    fn a_board_is_shown_on_its_kinds_page_unless_switched_to_the_list() {
        assert!(shows_board("/w/acme/deals", ""));
        assert!(shows_board("/w/acme/deals/", "?view=board"));
        assert!(shows_board("/w/acme/tasks", "?q=x&view=board"));
        assert!(!shows_board("/w/acme/deals", "?view=list"));
        assert!(!shows_board("/w/acme/deals", "?q=a&view=list"));
        assert!(!shows_board("/w/acme/deals", "?view=board&view=list"));
        assert!(shows_board("/w/acme/deals", "?view=list&view=board"));
        assert!(shows_board("/w/acme/deals", "?preview=list"));
        // A kind without a board, a record's page, another page, no workspace.
        assert!(!shows_board("/w/acme/customers", ""));
        assert!(!shows_board("/w/acme/deals/12", ""));
        assert!(!shows_board("/w/acme/chat", ""));
        assert!(!shows_board("/deals", ""));
        assert!(!shows_board("/x/acme/deals", ""));
    }

    /// Percent-encoded, as a link or a person may write them: decoded as the router
    /// decodes. Off the browser, leptos_router decodes only with its `ssr` feature (in
    /// the browser it calls `decodeURIComponent`), so this runs with it, as CI does.
    #[cfg(feature = "ssr")]
    #[test]
    fn a_percent_encoded_kind_or_view_is_read_as_the_router_reads_it() {
        assert!(shows_board("/w/acme/d%65als", ""));
        assert!(!shows_board("/w/acme/d%65als", "?view=%6Cist"));
        assert!(!shows_board("/w/acme/deals", "?vi%65w=list"));
        assert!(shows_board("/w/acme/deals", "?view=%6Cist&view=board"));
        assert!(!shows_board("/w/acme/customer%73", ""));
    }
}
