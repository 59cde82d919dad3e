//! The RSVP bar of a meeting's page: the signed-in participant's answer to the
//! invitation, and everyone's answers, live with the record.

use leptos::prelude::*;

use crate::api::calendar::answer_invitation;
use crate::components::error_message;
use crate::model::record::responses;
use crate::model::{Record, RecordKind};

/// A group of toggle buttons (Accept, Tentative, Decline; the current one
/// `aria-pressed`) for participant `me`, and the answers so far. `record` is the page's
/// live record: an answer saved here or by a colleague shows through it.
#[component]
pub fn RsvpBar(
    /// Workspace slug.
    slug: String,
    /// The scheduled kind (a meeting).
    kind: RecordKind,
    /// The record's id.
    id: i64,
    /// The signed-in member.
    me: i64,
    /// The kind's responses field.
    field: &'static str,
    /// The record as the page holds it.
    record: RwSignal<Option<Record>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let mine = move || {
        record.with(|r| {
            r.as_ref()
                .and_then(|r| r.get(field).as_text().map(responses))
                .and_then(|p| p.into_iter().find(|(u, _)| *u == me).map(|(_, a)| a))
                .unwrap_or("invited")
        })
    };
    let everyone =
        move || record.with(|r| r.as_ref().map(|r| r.display(field)).unwrap_or_default());
    let answer = move |a: &'static str| {
        let slug = slug.clone();
        move |_| {
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                match answer_invitation(slug, kind, id, a.to_string()).await {
                    Ok(r) => {
                        error.set(None);
                        if record
                            .with_untracked(|c| c.as_ref().is_none_or(|c| r.version > c.version))
                        {
                            record.set(Some(r));
                        }
                    }
                    Err(e) => error.set(Some(error_message(&e))),
                }
            });
        }
    };
    let button = move |a: &'static str, label: &'static str| {
        view! {
            <button type="button" aria-pressed=move || (mine() == a).to_string() on:click=answer(a)>{label}</button>
        }
    };
    view! {
        <section class="rsvp" aria-label="Your answer">
            <span>"Your answer: "</span>
            <span role="group" aria-label="RSVP">
                {button("accepted", "Accept")}
                {button("tentative", "Tentative")}
                {button("declined", "Decline")}
            </span>
            <p class="meta">{move || {
                let all = everyone();
                if all.is_empty() { "No answers yet.".to_string() } else { format!("Answers: {all}") }
            }}</p>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}
