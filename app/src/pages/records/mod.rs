//! Record pages for every kind through one set of components: a list with search,
//! filters, sort and paging (state in the URL query), a detail page with the record form,
//! related records, and the deals pipeline board.

mod board;
mod detail;
mod list;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api::workspaces::WorkspaceView;
use crate::model::RecordKind;
use crate::realtime::RoomEvent;

use board::*;
use list::*;

pub use detail::{CustomerPage, DealPage};

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
            view! { <Board kind=RecordKind::Deal/> }.into_any()
        }}
    }
}

/// Whether a workspace event changes what a list or board of `kind` shows.
pub(super) fn affects(ev: &RoomEvent, kind: RecordKind) -> bool {
    match ev {
        RoomEvent::Resync => true,
        RoomEvent::Change(c) => c.kind() == Some(kind),
    }
}
