//! Members' calendars and the booking page's data: weekly availability in a member's IANA
//! time zone, days off, the time scheduled records take (bookings) and the free slots
//! left, as server and browser exchange them. Instants are Unix milliseconds (UTC); the
//! browser shows them in the viewer's zone.

use serde::{Deserialize, Serialize};

use super::RecordKind;

/// Minutes in a day: the largest end minute of a window.
pub const DAY_MINUTES: i64 = 24 * 60;
/// The reminder lead a member gets until they choose one, minutes.
pub const DEFAULT_REMINDER_MINUTES: i64 = 10;
/// The longest span the booking page asks for at once, days.
pub const MAX_SPAN_DAYS: i64 = 14;

/// A member's calendar: where they are, when they work, their days off and how early
/// they are reminded. A member who never saved one has `published: false`, the zone
/// `UTC`, Monday to Friday 9:00 to 17:00 and a 10-minute reminder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// IANA time zone name (`Europe/Berlin`) the windows and days off are in.
    pub time_zone: String,
    /// Minutes before a meeting or call starts that its reminder is sent (1 to 1440; 0
    /// turns reminders off).
    pub reminder_minutes: i64,
    /// Weekly availability, in the zone.
    pub weekly: Vec<Window>,
    /// Days off (`YYYY-MM-DD` in the zone): no availability at all.
    pub days_off: Vec<String>,
    /// Whether the member saved it (otherwise these are the defaults).
    pub published: bool,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            time_zone: "UTC".into(),
            reminder_minutes: DEFAULT_REMINDER_MINUTES,
            weekly: (0..5)
                .map(|weekday| Window {
                    weekday,
                    start_minute: 9 * 60,
                    end_minute: 17 * 60,
                })
                .collect(),
            days_off: Vec::new(),
            published: false,
        }
    }
}

/// One weekly window of availability: on `weekday` (0 = Monday .. 6 = Sunday) from
/// `start_minute` to `end_minute` after local midnight (0 to 1440, start before end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// 0 = Monday .. 6 = Sunday.
    pub weekday: i64,
    /// Minutes after local midnight it opens.
    pub start_minute: i64,
    /// Minutes after local midnight it closes (1440 = midnight at its end).
    pub end_minute: i64,
}

impl Calendar {
    /// Checks everything but the zone's name (the server knows the zones): windows in
    /// range and not overlapping on a day, days off real dates, a reminder lead of 0 to
    /// 1440 minutes. Errors: (field, message for people).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(0..=DAY_MINUTES).contains(&self.reminder_minutes) {
            return Err((
                "reminder_minutes",
                "Reminder must be between 0 and 1440 minutes before".into(),
            ));
        }
        if self.weekly.len() > 70 || self.days_off.len() > 400 {
            return Err(("weekly", "Too many windows or days off".into()));
        }
        let mut windows = self.weekly.clone();
        windows.sort_by_key(|w| (w.weekday, w.start_minute));
        for (i, w) in windows.iter().enumerate() {
            if !(0..7).contains(&w.weekday)
                || w.start_minute < 0
                || w.end_minute > DAY_MINUTES
                || w.start_minute >= w.end_minute
            {
                return Err((
                    "weekly",
                    "Each window must be on a weekday and end after it starts".into(),
                ));
            }
            if i > 0
                && windows[i - 1].weekday == w.weekday
                && windows[i - 1].end_minute > w.start_minute
            {
                return Err(("weekly", "Windows of one day must not overlap".into()));
            }
        }
        if let Some(bad) = self
            .days_off
            .iter()
            .find(|d| !super::record::is_iso_date(d))
        {
            return Err(("days_off", format!("{bad} is not a date like 2026-12-24")));
        }
        Ok(())
    }
}

/// Time a scheduled record takes from one person, as the calendar shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    /// Whose time.
    pub user_id: i64,
    /// Start, Unix ms.
    pub starts_at: i64,
    /// End (excluded), Unix ms.
    pub ends_at: i64,
    /// The record, when it is in the viewer's workspace (another workspace's meeting
    /// shows only as busy).
    pub record: Option<(RecordKind, i64)>,
    /// Its title, under the same condition.
    pub title: Option<String>,
}

/// What the booking page shows for some members and a span: when all of them are free
/// (slots of `slot_minutes`), and what already takes their time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeSlots {
    /// The span asked for, Unix ms.
    pub from: i64,
    /// Its end (excluded), Unix ms.
    pub to: i64,
    /// Length of a slot, minutes.
    pub slot_minutes: i64,
    /// Start of each slot in which every member asked for is available and not booked,
    /// ascending, Unix ms (only slots that have not begun).
    pub slots: Vec<i64>,
    /// Their bookings in the span.
    pub busy: Vec<Busy>,
    /// Each member's zone, as (user id, IANA name), to say whose hours these are.
    pub zones: Vec<(i64, String)>,
}
