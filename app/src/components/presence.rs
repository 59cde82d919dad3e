//! Who else is here: the avatar stack of a room's presence, and the connection status.

use leptos::prelude::*;

use crate::model::{format_utc, initials};
use crate::realtime::protocol::{PresenceEntry, Room, Status};
use crate::realtime::{use_realtime, ConnectionStatus};

/// Where a presence indicator sits.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum PresencePosition {
    /// In the top right corner of its container.
    #[default]
    TopRight,
    /// In the bottom left corner.
    BottomLeft,
    /// Floating over the page.
    Floating,
}

impl PresencePosition {
    fn class(self) -> &'static str {
        match self {
            PresencePosition::TopRight => "presence top-right",
            PresencePosition::BottomLeft => "presence bottom-left",
            PresencePosition::Floating => "presence floating",
        }
    }
}

/// The tooltip of an avatar: name, status, page, field being edited, last seen.
fn tooltip(e: &PresenceEntry) -> String {
    let mut parts = vec![e.name.clone(), e.status.label().to_string()];
    if !e.page.is_empty() {
        parts.push(format!("on {}", e.page));
    }
    if let Some(ed) = &e.editing {
        parts.push(format!("editing {}", ed.field));
    }
    if e.last_seen > 0 {
        parts.push(format!("last seen {}", format_utc(e.last_seen)));
    }
    parts.join(" · ")
}

/// The people in a room as an avatar stack: at most `max_visible` avatars and "+N" for
/// the rest; each avatar's tooltip and accessible name give name, status, page, field
/// being edited and last seen. `compact` shows avatars only; otherwise names follow.
/// Props as in the product specification (PresenceIndicator).
#[component]
pub fn PresenceIndicator(
    /// The room whose presence to show.
    room: Room,
    /// Whether to include the signed-in user.
    #[prop(default = false)]
    show_current_user: bool,
    /// Avatars shown before "+N".
    #[prop(default = 5)]
    max_visible: usize,
    /// Placement.
    #[prop(default = PresencePosition::TopRight)]
    position: PresencePosition,
    /// Avatars only, no names.
    #[prop(default = true)]
    compact: bool,
    /// Accessible name of the group.
    #[prop(default = "People here")]
    label: &'static str,
    /// Only people whose current page is this path (for a list shown to the room's
    /// whole workspace).
    #[prop(optional, into)]
    page: Option<String>,
) -> impl IntoView {
    let rt = use_realtime();
    let people = move || {
        let Some(rt) = rt else { return Vec::new() };
        let me = rt.me().get();
        rt.presence(room)
            .get()
            .into_iter()
            .filter(|e| show_current_user || Some(e.user_id) != me)
            .filter(|e| page.as_ref().is_none_or(|p| &e.page == p))
            .collect::<Vec<_>>()
    };
    view! {
        <div class=position.class() role="group" aria-label=label>
            {move || {
                let list = people();
                let extra = list.len().saturating_sub(max_visible);
                let avatars = list.into_iter().take(max_visible).map(|e| {
                    let tip = tooltip(&e);
                    let away = e.status != Status::Online;
                    view! {
                        <span class="presence-person" class:away=away>
                            <span class="avatar" style=format!("background:{}", e.color) title=tip.clone() role="img" aria-label=tip>
                                {initials(&e.name)}
                            </span>
                            {(!compact).then(|| view! { <span class="presence-name">{e.name.clone()}</span> })}
                        </span>
                    }
                }).collect_view();
                view! {
                    {avatars}
                    {(extra > 0).then(|| view! { <span class="avatar more" role="img" aria-label=format!("{extra} more")>{format!("+{extra}")}</span> })}
                }
            }}
        </div>
    }
}

/// The connection's state for people: connected (saying so when it goes by the
/// server-sent events fallback), reconnecting (attempt and next try), offline, or signed
/// out.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let rt = use_realtime();
    let fallback = move || {
        rt.is_some_and(|r| r.transport().get() == crate::realtime::Transport::ServerSentEvents)
    };
    let text = move || match rt.map(|r| r.status().get()).unwrap_or_default() {
        ConnectionStatus::Connecting => "Connecting…".to_string(),
        ConnectionStatus::Connected if fallback() => {
            "Live (server-sent events: WebSockets are blocked)".to_string()
        }
        ConnectionStatus::Connected => "Live".to_string(),
        ConnectionStatus::Reconnecting {
            attempt,
            next_in_secs,
        } => {
            format!("Reconnecting (attempt {attempt}, next try in {next_in_secs} s)")
        }
        ConnectionStatus::Offline => "Offline: changes will sync when you are back".to_string(),
        ConnectionStatus::SignedOut => "Signed out: sign in again to see changes".to_string(),
    };
    let class = move || match rt.map(|r| r.status().get()).unwrap_or_default() {
        ConnectionStatus::Connected => "connection live",
        ConnectionStatus::Offline | ConnectionStatus::SignedOut => "connection offline",
        _ => "connection waiting",
    };
    // Edits waiting in this browser (offline, or a clash to settle).
    let queue = crate::components::edit_queue::use_edit_queue();
    let outbox = crate::components::chat::use_chat_outbox();
    let pending = move || {
        let edits = match queue.map(|q| q.count()).unwrap_or(0) {
            0 => String::new(),
            1 => " · 1 change pending".to_string(),
            n => format!(" · {n} changes pending"),
        };
        let messages = match outbox.map(|o| o.count()).unwrap_or(0) {
            0 => String::new(),
            1 => " · 1 message waiting".to_string(),
            n => format!(" · {n} messages waiting"),
        };
        edits + &messages
    };
    view! { <span class=class role="status" aria-label="Connection">{text}{pending}</span> }
}
