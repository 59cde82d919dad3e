//! `/w/{slug}/preferences`: the user's notification preferences, per type: in the app,
//! with a sound, as a browser notification (the browser's permission is asked when it is
//! first turned on); e-mail is not offered yet.

use leptos::prelude::*;

use crate::api::notifications::{get_notification_prefs, set_notification_pref};
use crate::components::error_message;
use crate::model::notify::NoticePref;

/// Which delivery a checkbox sets.
#[derive(Clone, Copy, PartialEq)]
enum Channel {
    InApp,
    Sound,
    Browser,
}

/// The preferences table: a row per notification type, a checkbox per delivery.
#[component]
pub fn PreferencesPage() -> impl IntoView {
    let prefs = RwSignal::new(Vec::<NoticePref>::new());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            match get_notification_prefs().await {
                Ok(p) => prefs.set(p),
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    });
    let change = move |index: usize, channel: Channel, on: bool| {
        let Some(mut pref) = prefs.with_untracked(|p| p.get(index).copied()) else {
            return;
        };
        match channel {
            Channel::InApp => pref.in_app = on,
            Channel::Sound => pref.sound = on,
            Channel::Browser => pref.browser = on,
        }
        if channel == Channel::Browser && on {
            ask_browser_permission();
        }
        // Kept at once, so a second change of the row builds on this one.
        saved.set(false);
        prefs.update(|p| p[index] = pref);
        leptos::task::spawn_local(async move {
            match set_notification_pref(pref).await {
                Ok(()) => saved.set(true),
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    let checkbox = move |index: usize, pref: NoticePref, channel: Channel, label: &'static str| {
        let on = match channel {
            Channel::InApp => pref.in_app,
            Channel::Sound => pref.sound,
            Channel::Browser => pref.browser,
        };
        let name = format!("{}: {label}", pref.ntype.label());
        view! {
            <td><input type="checkbox" aria-label=name checked=on
                on:change=move |ev| change(index, channel, event_target_checked(&ev))/></td>
        }
    };
    view! {
        <header class="page-header"><h1>"Notification preferences"</h1></header>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <table class="prefs">
            <thead><tr>
                <th scope="col">"Notification"</th>
                <th scope="col">"In the app"</th>
                <th scope="col">"Sound"</th>
                <th scope="col">"Browser notification"</th>
                <th scope="col">"E-mail"</th>
            </tr></thead>
            <tbody>
                {move || prefs.get().into_iter().enumerate().map(|(i, p)| view! {
                    <tr>
                        <th scope="row">{p.ntype.label()}</th>
                        {checkbox(i, p, Channel::InApp, "in the app")}
                        {checkbox(i, p, Channel::Sound, "sound")}
                        {checkbox(i, p, Channel::Browser, "browser notification")}
                        <td>"Not yet"</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {move || saved.get().then(|| view! { <p role="status">"Saved."</p> })}
    }
}

/// Asks the browser for permission to show notifications (once; it remembers the answer).
fn ask_browser_permission() {
    #[cfg(feature = "hydrate")]
    // The browser prompts now; its answer is read when a notification is shown.
    let _ = web_sys::Notification::request_permission();
}
