//! `/w/{slug}/settings`: renaming the workspace (admins and the owner).

use leptos::prelude::*;

use crate::api::workspaces::{RenameWorkspace, WorkspaceView};
use crate::components::{navigate_hard, ActionError};

/// The workspace's name. The form posts without the WASM too (`ActionForm`); after a
/// rename the page loads afresh, so the new name shows everywhere (menus, title).
#[component]
pub fn SettingsPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let rename = ServerAction::<RenameWorkspace>::new();
    let reload = format!("/w/{}/settings", ws.workspace.slug);
    Effect::new(move |_| {
        if let Some(Ok(_)) = rename.value().get() {
            navigate_hard(&reload);
        }
    });
    let (slug, name) = (ws.workspace.slug.clone(), ws.workspace.name.clone());
    view! {
        <h1>"Workspace settings"</h1>
        <ActionForm action=rename attr:class="inline-form">
            <input type="hidden" name="slug" value=slug/>
            <label for="workspace-rename">"Workspace name"</label>
            <input id="workspace-rename" name="name" type="text" required value=name disabled=!ws.role.can_admin()/>
            <button type="submit" class="primary" disabled=move || rename.pending().get() || !ws.role.can_admin()>"Rename"</button>
        </ActionForm>
        <ActionError result=rename.value()/>
        <p class="meta">{format!("Address: /w/{}", ws.workspace.slug)}</p>
    }
}
