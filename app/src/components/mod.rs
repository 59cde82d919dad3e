//! Reusable view pieces: error messages, avatars, hard navigation, and the one record
//! form that edits every record kind.

pub mod activity_feed;
pub mod chat;
pub mod collaborative_form;
pub mod edit_queue;
pub mod follow;
pub mod notification_center;
pub mod presence;
pub mod record_form;
pub mod rsvp;

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::initials;

pub use activity_feed::ActivityFeed;
pub use collaborative_form::{CollaborativeForm, ConflictResolutionModal};
pub use edit_queue::EditQueueProvider;
pub use follow::FollowButton;
pub use notification_center::{NotificationCenter, ToastCorner};
pub use presence::{ConnectionIndicator, PresenceIndicator, PresencePosition};
pub use record_form::RecordForm;
pub use rsvp::RsvpBar;

/// An instant (Unix ms) as a `<time>` element: the server renders it in UTC, and once the
/// page has hydrated it shows the viewer's local date and time (so hydration sees the
/// server's text first).
#[component]
pub fn LocalTime(
    /// Unix milliseconds.
    ms: i64,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let text = move || {
        if hydrated.get() {
            local_date_time(ms)
        } else {
            crate::model::format_utc(ms)
        }
    };
    view! { <time datetime=crate::model::record::time::format_instant(ms)>{text}</time> }
}

/// `2026-11-22 15:05` in the browser's time zone (UTC on the server, which does not know
/// the viewer's zone).
fn local_date_time(ms: i64) -> String {
    match local_parts(ms) {
        Some((y, mo, d, h, mi)) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}"),
        None => crate::model::format_utc(ms),
    }
}

/// An instant's (year, month, day, hour, minute) in the browser's time zone; `None` on
/// the server, which does not know the viewer's zone.
pub(crate) fn local_parts(ms: i64) -> Option<(u32, u32, u32, u32, u32)> {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        Some((
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date(),
            d.get_hours(),
            d.get_minutes(),
        ))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        None
    }
}

/// Local midnight (in the browser's zone) of the day `days` after the day holding `ms`,
/// Unix ms; on the server (which does not know the viewer's zone) UTC midnight.
pub fn local_day_start(ms: i64, days: i64) -> i64 {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        let day = js_sys::Date::new_with_year_month_day(
            d.get_full_year(),
            d.get_month() as i32,
            d.get_date() as i32 + days as i32,
        );
        day.get_time() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        (ms.div_euclid(86_400_000) + days) * 86_400_000
    }
}

/// Local midnight of the Monday of the week holding `ms` (browser zone; UTC on the server).
pub fn local_week_start(ms: i64) -> i64 {
    let (days_since_monday, _) = local_weekday(ms);
    local_day_start(ms, -days_since_monday)
}

/// The weekday of `ms` as (days since Monday, short English name), in the browser's zone.
pub fn local_weekday(ms: i64) -> (i64, &'static str) {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    #[cfg(feature = "hydrate")]
    let since_monday =
        (js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64)).get_day() as i64 + 6) % 7;
    // 1970-01-01 was a Thursday.
    #[cfg(not(feature = "hydrate"))]
    let since_monday = (ms.div_euclid(86_400_000) + 3).rem_euclid(7);
    (since_monday, NAMES[since_monday as usize])
}

/// "Mon 29 Mar": a day as the calendar's headings and slot names say it, in the
/// browser's zone.
pub fn local_day_label(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, mo, d) = match local_parts(ms) {
        Some((y, mo, d, _, _)) => (y as i64, mo as i64, d as i64),
        None => crate::model::record::time::civil_from_days(ms.div_euclid(86_400_000)),
    };
    format!("{} {d} {}", local_weekday(ms).1, MONTHS[(mo - 1) as usize])
}

/// "09:30": the time of day of `ms` in the browser's zone (UTC on the server).
pub fn local_clock(ms: i64) -> String {
    match local_parts(ms) {
        Some((_, _, _, h, mi)) => format!("{h:02}:{mi:02}"),
        None => {
            let m = ms.rem_euclid(86_400_000) / 60_000;
            format!("{:02}:{:02}", m / 60, m % 60)
        }
    }
}

/// The browser's IANA time zone (`Europe/Berlin`); `UTC` on the server or when the
/// browser does not say.
pub fn local_zone() -> String {
    #[cfg(feature = "hydrate")]
    {
        let format =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
            .ok()
            .and_then(|z| z.as_string())
            .unwrap_or_else(|| "UTC".into())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        "UTC".into()
    }
}

/// The message of a failed call, for people.
pub fn error_message(e: &AppError) -> String {
    let m = e.to_string();
    let mut c = m.chars();
    match c.next() {
        Some(f) => crate::model::to_upper(f.encode_utf8(&mut [0; 4])) + c.as_str(),
        None => m,
    }
}

/// Whether the calling component has hydrated: false during server rendering and until
/// the WASM has taken the component over, then true. Each component asks for its own: a
/// lazily loaded page hydrates after the rest of the app, and a value that was already
/// true when it hydrated would leave the server's markup (a disabled form) in place.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after the component has hydrated.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// Renders its children only once the page has hydrated, for what depends on the
/// viewer's time zone (their day, their week): the server does not know it, so the
/// server's page and the hydrating one both hold nothing there and agree.
#[component]
pub fn AfterHydration(children: ChildrenFn) -> impl IntoView {
    let hydrated = use_hydrated();
    move || hydrated.get().then(|| children())
}

/// Wraps controls in a fieldset that stays disabled until the page has hydrated, so no
/// one types into or submits a form whose handlers are not attached yet (what was typed
/// would be lost). Disabled controls are also what automated browsers wait for.
#[component]
pub fn Ready(children: Children) -> impl IntoView {
    let ready = use_hydrated();
    view! {
        <fieldset class="plain" disabled=move || !ready.get()>
            {children()}
        </fieldset>
    }
}

/// Shows the error of the last run of an action, if it failed, as an alert.
#[component]
pub fn ActionError<T: Clone + Send + Sync + 'static>(
    /// The action's last result (`action.value()`).
    #[prop(into)]
    result: Signal<Option<Result<T, AppError>>>,
) -> impl IntoView {
    move || {
        result.with(|r| match r {
            Some(Err(e)) => Some(view! { <p class="error" role="alert">{error_message(e)}</p> }),
            _ => None,
        })
    }
}

/// A round avatar with a person's initials on their colour; the name is its accessible
/// label and tooltip.
#[component]
pub fn Avatar(
    /// The person's display name.
    name: String,
    /// Background colour (`#rrggbb`).
    color: String,
) -> impl IntoView {
    view! {
        <span class="avatar" style=format!("background:{color}") title=name.clone() role="img" aria-label=name.clone()>
            {initials(&name)}
        </span>
    }
}

/// Loads `path` as a new page (not a client-side route change), so the server renders it
/// with the current session. Used after signing in or out. Does nothing on the server.
pub fn navigate_hard(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The page's origin (`http://host:port`) once running in the browser; empty during
/// server rendering, so hydration sees the same text first.
pub fn use_origin() -> ReadSignal<String> {
    let (origin, set_origin) = signal(String::new());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        set_origin.set(window().location().origin().unwrap_or_default());
        #[cfg(not(feature = "hydrate"))]
        let _ = set_origin;
    });
    origin
}
