//! The Follow toggle of a record's page: followers hear of every change to the record
//! while it is high priority.

use leptos::prelude::*;

use crate::api::notifications::{get_following, set_following};
use crate::components::error_message;
use crate::model::RecordKind;

/// A toggle button (`aria-pressed`) that follows or unfollows the record for the
/// signed-in user.
#[component]
pub fn FollowButton(
    /// Workspace slug.
    slug: String,
    /// The record's kind.
    kind: RecordKind,
    /// The record's id.
    id: i64,
) -> impl IntoView {
    let following = RwSignal::new(None::<bool>);
    let error = RwSignal::new(None::<String>);
    {
        let slug = slug.clone();
        Effect::new(move |_| {
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                match get_following(slug, kind, id).await {
                    Ok(on) => following.set(Some(on)),
                    Err(e) => error.set(Some(error_message(&e))),
                }
            });
        });
    }
    let toggle = move |_| {
        let on = !following.get_untracked().unwrap_or(false);
        let slug = slug.clone();
        leptos::task::spawn_local(async move {
            match set_following(slug, kind, id, on).await {
                Ok(on) => following.set(Some(on)),
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    view! {
        <button type="button" class="follow" disabled=move || following.get().is_none()
            aria-pressed=move || following.get().unwrap_or(false).to_string() on:click=toggle>
            "Follow"
        </button>
        {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
    }
}
