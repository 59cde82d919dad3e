//! `/`: sends a visitor to log in, and a signed-in user to their last workspace.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::auth::get_current_user;
use crate::api::workspaces::list_workspaces;

/// Redirects to `/login`, the last workspace used, or `/workspaces`.
#[component]
pub fn HomePage() -> impl IntoView {
    let target = Resource::new(
        || (),
        |_| async move {
            // Both calls start together: see `records::filter_options` for why.
            let (user, list) = futures::future::join(get_current_user(), list_workspaces()).await;
            let Ok(Some(user)) = user else {
                return "/login".to_string();
            };
            let list = list.unwrap_or_default();
            match list
                .iter()
                .find(|m| Some(m.workspace.id) == user.last_workspace_id)
            {
                Some(m) => format!("/w/{}/dashboard", m.workspace.slug),
                None => "/workspaces".to_string(),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move { view! { <Redirect path=target.await/> } })}
        </Suspense>
    }
}
