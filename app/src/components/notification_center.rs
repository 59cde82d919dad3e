//! NotificationCenter: the bell in the top bar with the unread count, the dropdown
//! history (paged, filtered and grouped by type, with mark read, snooze and dismiss),
//! toasts for what arrives live, and the optional sound and browser notification, per the
//! user's preferences. It follows the user's `user:{id}` room, so what happened while they
//! were away arrives on connection and read state follows across their tabs.

use leptos::prelude::*;

use crate::api::notifications::{
    dismiss_notification, get_notification_prefs, list_notifications, mark_all_notifications_read,
    mark_notifications_read, snooze_notification,
};
use crate::components::{error_message, LocalTime};
use crate::model::notify::{NoticePref, NoticeType, Notification, Priority};
use crate::realtime::protocol::{Change, Room};
use crate::realtime::{use_realtime, RoomEvent, RoomListener};

/// Where toasts appear on the screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ToastCorner {
    /// Top right (under the top bar).
    #[default]
    TopRight,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

impl ToastCorner {
    fn class(self) -> &'static str {
        match self {
            ToastCorner::TopRight => "toasts top-right",
            ToastCorner::BottomRight => "toasts bottom-right",
            ToastCorner::BottomLeft => "toasts bottom-left",
        }
    }
}

/// How many toasts are on screen at once at most (older ones give way).
const MAX_TOASTS: usize = 4;

/// Now, Unix milliseconds (the browser's clock; the server's on the server).
fn now() -> i64 {
    crate::model::now_ms()
}

/// Tomorrow at 9:00 in the browser's time zone, Unix milliseconds.
fn tomorrow_nine() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new_0();
        d.set_date(d.get_date() + 1);
        d.set_hours(9);
        d.set_minutes(0);
        d.set_seconds(0);
        d.set_milliseconds(0);
        d.get_time() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        now() + 24 * 60 * 60 * 1000
    }
}

/// The bell, its dropdown and the toasts, for the signed-in `user`.
///
/// `position` places the toasts; the dropdown keeps at most `max_notifications` loaded
/// (more by "Load older"); a toast hides after `auto_hide_ms` milliseconds, except an
/// urgent one, which stays until dismissed. The tab's title shows the unread count.
#[component]
pub fn NotificationCenter(
    /// The signed-in user's id (their room).
    user: i64,
    /// Where toasts appear.
    #[prop(default = ToastCorner::TopRight)]
    position: ToastCorner,
    /// Page size of the history.
    #[prop(default = 50)]
    max_notifications: usize,
    /// How long a toast stays, milliseconds (urgent ones stay until dismissed).
    #[prop(default = 5000)]
    auto_hide_ms: u64,
) -> impl IntoView {
    let items = RwSignal::new(Vec::<Notification>::new());
    let unread = RwSignal::new(0i64);
    let older = RwSignal::new(None::<i64>);
    let toasts = RwSignal::new(Vec::<Notification>::new());
    let open = RwSignal::new(false);
    let only = RwSignal::new(None::<NoticeType>);
    let grouped = RwSignal::new(false);
    let prefs = RwSignal::new(None::<Vec<NoticePref>>);
    let error = RwSignal::new(None::<String>);
    let bell = NodeRef::<leptos::html::Button>::new();
    let limit = max_notifications.clamp(1, 200) as i64;

    let listener = StoredValue::new(None::<RoomListener>);
    // Loads the newest page and resumes the room from where it was read.
    let reload = move || {
        leptos::task::spawn_local(async move {
            match list_notifications(None, Some(limit)).await {
                Ok(page) => {
                    items.set(page.items);
                    unread.set(page.unread);
                    older.set(page.next_before);
                    error.set(None);
                    if let (Some(l), Some(p)) = (listener.get_value(), page.position) {
                        l.resume(p);
                    }
                }
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    // A notification made or changed: a new one goes first (with a toast, a sound and a
    // browser notification as the user prefers); a change of one held is applied; one
    // not held (older than the page) reloads.
    let show_browser = browser_notifier();
    let arrived = move |n: Notification| {
        let held = items.with_untracked(|list| list.iter().position(|x| x.id == n.id));
        let newest = items.with_untracked(|list| list.first().map_or(0, |x| x.id));
        match held {
            Some(i) => {
                let was = items.with_untracked(|list| list[i].unread_at(now()));
                let is = n.unread_at(now());
                unread.update(|u| *u += is as i64 - was as i64);
                items.update(|list| {
                    if n.visible_at(now()) {
                        list[i] = n;
                    } else {
                        list.remove(i);
                    }
                });
            }
            None if n.id > newest && n.unread_at(now()) => {
                unread.update(|u| *u += 1);
                items.update(|list| list.insert(0, n.clone()));
                toast(n, toasts, prefs, auto_hide_ms, show_browser.clone());
            }
            None => reload(),
        }
    };
    if let Some(rt) = use_realtime() {
        let l = rt.listen(Room::User(user), move |ev| match ev {
            RoomEvent::Change(change, _) => match *change {
                Change::Notice { notification, .. } => arrived(notification),
                Change::NoticesRead { .. } => reload(),
                _ => {}
            },
            RoomEvent::Resync => reload(),
            _ => {}
        });
        listener.set_value(Some(l));
    }
    Effect::new(move |_| reload());
    // The tab's title carries the unread count.
    Effect::new(move |_| {
        let n = unread.get();
        let title = if n > 0 {
            format!("({n}) Tandem")
        } else {
            "Tandem".to_string()
        };
        document().set_title(&title);
    });

    let mark_read = move |id: i64| {
        leptos::task::spawn_local(async move {
            if let Err(e) = mark_notifications_read(vec![id]).await {
                error.set(Some(error_message(&e)));
            }
        })
    };
    let mark_all = move |_| {
        leptos::task::spawn_local(async move {
            if let Err(e) = mark_all_notifications_read().await {
                error.set(Some(error_message(&e)));
            }
        })
    };
    let set_state = move |id: i64, until: Option<i64>| {
        leptos::task::spawn_local(async move {
            let done = match until {
                Some(t) => snooze_notification(id, t).await,
                None => dismiss_notification(id).await,
            };
            if let Err(e) = done {
                error.set(Some(error_message(&e)));
            }
        })
    };
    let load_older = move |_| {
        let Some(before) = older.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match list_notifications(Some(before), Some(limit)).await {
                Ok(page) => {
                    items.update(|list| {
                        for n in page.items {
                            if list.iter().all(|x| x.id != n.id) {
                                list.push(n);
                            }
                        }
                    });
                    older.set(page.next_before);
                }
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    let close = move || {
        open.set(false);
        if let Some(b) = bell.get_untracked() {
            let _ = b.focus();
        }
    };
    // Escape closes the open panel wherever the focus is (a button that went away with
    // what it did, "Mark read", leaves it on the page).
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && open.get_untracked() {
            close();
        }
    });
    on_cleanup(move || escape.remove());
    let row = move |n: Notification| {
        let id = n.id;
        let is_unread = n.read_at.is_none();
        let title = n.title.clone();
        let href = n.link.clone().unwrap_or_else(|| "#".into());
        view! {
            <li class=if is_unread { "notice unread" } else { "notice" } aria-label=title.clone()>
                <a href=href on:click=move |_| { if is_unread { mark_read(id) } open.set(false); }>{title.clone()}</a>
                {(!n.body.is_empty()).then(|| view! { <p class="body">{n.body.clone()}</p> })}
                <p class="meta">
                    {n.actor_name.clone().map(|a| format!("{a} · "))}
                    <LocalTime ms=n.created_at/>
                    {is_unread.then(|| view! { <span class="badge">"Unread"</span> })}
                </p>
                <div class="notice-actions">
                    {is_unread.then(|| view! { <button type="button" on:click=move |_| mark_read(id)>"Mark read"</button> })}
                    <button type="button" on:click=move |_| set_state(id, Some(now() + 60 * 60 * 1000))>"Snooze 1 hour"</button>
                    <button type="button" on:click=move |_| set_state(id, Some(tomorrow_nine()))>"Snooze until tomorrow 9:00"</button>
                    <button type="button" on:click=move |_| set_state(id, None)>"Dismiss"</button>
                </div>
            </li>
        }
    };
    let shown = move || {
        let filter = only.get();
        items
            .get()
            .into_iter()
            .filter(|n| filter.is_none_or(|t| n.ntype == t))
            .collect::<Vec<_>>()
    };
    let list = move || {
        let list = shown();
        if list.is_empty() {
            return view! { <p class="empty">"Nothing here."</p> }.into_any();
        }
        if !grouped.get() {
            return view! { <ul class="notices">{list.into_iter().map(row).collect_view()}</ul> }
                .into_any();
        }
        NoticeType::ALL
            .into_iter()
            .filter_map(|t| {
                let group: Vec<Notification> = list.iter().filter(|n| n.ntype == t).cloned().collect();
                (!group.is_empty()).then(|| {
                    view! {
                        <h3>{t.label()}</h3>
                        <ul class="notices" aria-label=t.label()>{group.into_iter().map(row).collect_view()}</ul>
                    }
                })
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="notification-center">
            <button type="button" class="bell" node_ref=bell
                aria-label=move || format!("Notifications, {} unread", unread.get())
                aria-expanded=move || open.get().to_string()
                aria-controls="notification-panel"
                on:click=move |_| {
                    let opening = !open.get_untracked();
                    open.set(opening);
                    if opening {
                        reload();
                    }
                }>
                <span aria-hidden="true">"🔔"</span>
                <span class="count" aria-hidden="true" class:zero=move || unread.get() == 0>{move || unread.get()}</span>
            </button>
            <section id="notification-panel" class="notification-panel" role="dialog" aria-label="Notifications"
                hidden=move || !open.get()>
                <header>
                    <h2>"Notifications"</h2>
                    <button type="button" on:click=mark_all disabled=move || unread.get() == 0>"Mark all read"</button>
                    <button type="button" on:click=move |_| close()>"Close"</button>
                </header>
                <div class="notice-filters">
                    <label>"Type "
                        <select aria-label="Type" on:change=move |ev| only.set(NoticeType::parse(&event_target_value(&ev)))>
                            <option value="">"All"</option>
                            {NoticeType::ALL.into_iter().map(|t| view! { <option value=t.as_str()>{t.label()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label><input type="checkbox" on:change=move |ev| grouped.set(event_target_checked(&ev))/>" Group by type"</label>
                </div>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {list}
                {move || older.get().map(|_| view! { <button type="button" on:click=load_older>"Load older"</button> })}
            </section>
            <div class=position.class() role="region" aria-label="New notifications">
                <For each=move || toasts.get() key=|n| n.id let:n>
                    {
                        let id = n.id;
                        let urgent = n.priority == Priority::Urgent;
                        let href = n.link.clone().unwrap_or_else(|| "#".into());
                        view! {
                            <div class=format!("toast {}", n.priority.as_str()) role=if urgent { "alert" } else { "status" }>
                                <a href=href on:click=move |_| mark_read(id)>{n.title.clone()}</a>
                                {(!n.body.is_empty()).then(|| view! { <p>{n.body.clone()}</p> })}
                                <button type="button" aria-label="Dismiss notification"
                                    on:click=move |_| toasts.update(|t| t.retain(|x| x.id != id))>"×"</button>
                            </div>
                        }
                    }
                </For>
            </div>
        </div>
    }
}

/// Shows `n` as a toast (hidden after `auto_hide_ms` unless urgent), with a sound and a
/// browser notification when the user's preference for its type asks for them (the
/// preferences are loaded on the first toast).
fn toast(
    n: Notification,
    toasts: RwSignal<Vec<Notification>>,
    prefs: RwSignal<Option<Vec<NoticePref>>>,
    auto_hide_ms: u64,
    show_browser: std::sync::Arc<dyn Fn(&Notification) + Send + Sync>,
) {
    let id = n.id;
    let urgent = n.priority == Priority::Urgent;
    toasts.update(|t| {
        t.push(n.clone());
        let extra = t.len().saturating_sub(MAX_TOASTS);
        t.drain(..extra);
    });
    if !urgent {
        set_timeout(
            move || toasts.update(|t| t.retain(|x| x.id != id)),
            std::time::Duration::from_millis(auto_hide_ms),
        );
    }
    leptos::task::spawn_local(async move {
        if prefs.get_untracked().is_none() {
            if let Ok(p) = get_notification_prefs().await {
                prefs.set(Some(p));
            }
        }
        let pref = prefs
            .get_untracked()
            .and_then(|p| p.into_iter().find(|p| p.ntype == n.ntype))
            .unwrap_or_else(|| NoticePref::default_for(n.ntype));
        if pref.sound {
            play_sound();
        }
        if pref.browser {
            show_browser(&n);
        }
    });
}

/// Plays the notification sound (`/notify.wav`); a browser that blocks it stays silent.
fn play_sound() {
    #[cfg(feature = "hydrate")]
    if let Ok(audio) = web_sys::HtmlAudioElement::new_with_src("/notify.wav") {
        let _ = audio.play();
    }
}

/// Shows a notification as the browser's own (leptos-use's `use_web_notification`,
/// which asks the browser's permission on first use). Nothing on the server: the hook
/// holds thread-bound browser state, which a server render must not create.
fn browser_notifier() -> std::sync::Arc<dyn Fn(&Notification) + Send + Sync> {
    #[cfg(not(feature = "hydrate"))]
    {
        std::sync::Arc::new(|_: &Notification| {})
    }
    #[cfg(feature = "hydrate")]
    {
        browser_notifier_in_browser()
    }
}

#[cfg(feature = "hydrate")]
fn browser_notifier_in_browser() -> std::sync::Arc<dyn Fn(&Notification) + Send + Sync> {
    let web = leptos_use::use_web_notification();
    let show = web.show;
    std::sync::Arc::new(move |n: &Notification| {
        show(
            leptos_use::ShowOptions::default()
                .title(n.title.clone())
                .body(n.body.clone())
                .tag(format!("tandem-{}", n.id)),
        )
    })
}
