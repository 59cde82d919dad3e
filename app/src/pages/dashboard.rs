//! `/w/{slug}/dashboard`: the workspace's live activity (who did what, filtered, grouped,
//! exported) and, for admins, announcements to everyone.

use leptos::prelude::*;

use crate::api::notifications::announce;
use crate::api::workspaces::WorkspaceView;
use crate::components::{ActionError, ActivityFeed, Ready};
use crate::model::activity::FeedType;
use crate::model::notify::Priority;

/// The dashboard: the announcement form (admins) and the workspace's activity feed.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let view = expect_context::<WorkspaceView>();
    let admin = view.role.can_admin();
    let slug = view.workspace.slug.clone();
    view! {
        <header class="page-header"><h1>"Dashboard"</h1></header>
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
