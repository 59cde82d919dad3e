//! Free slots for the booking page: members' weekly availability turned into instants in
//! their own IANA time zones (so a daylight-saving change moves the UTC hours, not the
//! local ones), intersected across members, minus their bookings, cut into slots.
//! Pure functions over [`Calendar`]s and [`Busy`] lists; the zone rules come from jiff's
//! bundled tz database.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::model::calendar::{Busy, Calendar, DAY_MINUTES};

/// An interval of time, Unix ms, end excluded.
pub type Span = (i64, i64);

/// The zone called `name`. Errors: a message for people when there is no such IANA zone.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .map_err(|_| format!("{name} is not a known time zone (an IANA name like Europe/Berlin)"))
}

/// The instant of `minute` minutes after local midnight of `day` in `tz` (a minute that
/// a daylight-saving gap skips maps forward, as clocks do).
fn at(tz: &TimeZone, day: Date, minute: i64) -> Option<i64> {
    let (day, minute) = if minute >= DAY_MINUTES {
        (day.tomorrow().ok()?, minute - DAY_MINUTES)
    } else {
        (day, minute)
    };
    let time = day.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    Some(time.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
}

/// When `calendar`'s owner is available within `from..to` (Unix ms): each local day of
/// the span (in their zone) that is not a day off, with the windows of its weekday, as
/// ascending, non-overlapping spans clipped to the span. Errors: an unknown zone.
pub fn available(calendar: &Calendar, from: i64, to: i64) -> Result<Vec<Span>, String> {
    let tz = zone(&calendar.time_zone)?;
    let first = jiff::Timestamp::from_millisecond(from)
        .map_err(|e| e.to_string())?
        .to_zoned(tz.clone())
        .date()
        .yesterday()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut day = first;
    while let Some(midnight) = at(&tz, day, 0) {
        if midnight >= to {
            break;
        }
        let name = day.to_string();
        if !calendar.days_off.contains(&name) {
            let weekday = i64::from(day.weekday().to_monday_zero_offset());
            let mut windows: Vec<_> = calendar
                .weekly
                .iter()
                .filter(|w| w.weekday == weekday)
                .collect();
            windows.sort_by_key(|w| w.start_minute);
            for w in windows {
                if let (Some(a), Some(b)) =
                    (at(&tz, day, w.start_minute), at(&tz, day, w.end_minute))
                {
                    let (a, b) = (a.max(from), b.min(to));
                    if a < b {
                        out.push((a, b));
                    }
                }
            }
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    Ok(merge(out))
}

/// Sorted, overlapping or touching spans joined.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The time in both `x` and `y` (each ascending and non-overlapping).
pub fn intersect(x: &[Span], y: &[Span]) -> Vec<Span> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < x.len() && j < y.len() {
        let (a, b) = (x[i].0.max(y[j].0), x[i].1.min(y[j].1));
        if a < b {
            out.push((a, b));
        }
        if x[i].1 < y[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `spans` without the time of `busy`.
pub fn subtract(spans: &[Span], busy: &[Busy]) -> Vec<Span> {
    let taken = merge(busy.iter().map(|b| (b.starts_at, b.ends_at)).collect());
    let mut out = Vec::new();
    for &(mut a, b) in spans {
        for &(x, y) in &taken {
            if y <= a || x >= b {
                continue;
            }
            if x > a {
                out.push((a, x));
            }
            a = a.max(y);
        }
        if a < b {
            out.push((a, b));
        }
    }
    out
}

/// The starts of whole slots of `minutes` in `spans`, each span cut from its start, that
/// begin at or after `not_before`.
pub fn slots(spans: &[Span], minutes: i64, not_before: i64) -> Vec<i64> {
    let step = minutes * 60_000;
    let mut out = Vec::new();
    for &(a, b) in spans {
        let mut s = a;
        while s + step <= b {
            if s >= not_before {
                out.push(s);
            }
            s += step;
        }
    }
    out
}

/// The free slots of `minutes` within `from..to` when all of `calendars`' owners are
/// available and none is in `busy`, not before `now`. Errors: an unknown zone.
pub fn free_slots(
    calendars: &[Calendar],
    busy: &[Busy],
    from: i64,
    to: i64,
    minutes: i64,
    now: i64,
) -> Result<Vec<i64>, String> {
    let mut common: Option<Vec<Span>> = None;
    for c in calendars {
        let mine = available(c, from, to)?;
        common = Some(match common {
            None => mine,
            Some(all) => intersect(&all, &mine),
        });
    }
    let open = subtract(&common.unwrap_or_default(), busy);
    Ok(slots(&open, minutes, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::calendar::Window;

    fn ms(s: &str) -> i64 {
        crate::model::record::time::parse_instant(s).expect("an instant")
    }

    fn berlin() -> Calendar {
        Calendar {
            time_zone: "Europe/Berlin".into(),
            ..Calendar::default()
        }
    }

    #[test]
    fn availability_follows_the_zone_across_a_daylight_saving_change() {
        // Berlin moves from UTC+1 to UTC+2 on Sunday 2027-03-28: 9:00 local is 08:00Z on
        // Friday the 26th and 07:00Z on Monday the 29th.
        let spans = available(&berlin(), ms("2027-03-26T00:00Z"), ms("2027-03-30T00:00Z")).unwrap();
        assert_eq!(
            spans,
            vec![
                (ms("2027-03-26T08:00Z"), ms("2027-03-26T16:00Z")),
                (ms("2027-03-29T07:00Z"), ms("2027-03-29T15:00Z")),
            ]
        );
        let free = free_slots(
            &[berlin()],
            &[],
            ms("2027-03-29T00:00Z"),
            ms("2027-03-30T00:00Z"),
            60,
            0,
        )
        .unwrap();
        assert_eq!(free.len(), 8);
        assert_eq!(free[0], ms("2027-03-29T07:00Z"));
    }

    #[test]
    fn days_off_bookings_and_other_members_take_slots_away() {
        let mut ann = berlin();
        ann.days_off.push("2027-03-25".into());
        let bo = Calendar {
            time_zone: "America/New_York".into(),
            weekly: vec![Window {
                weekday: 4,
                start_minute: 0,
                end_minute: 5 * 60,
            }],
            ..Calendar::default()
        };
        // Friday 26 March: Ann 08:00-16:00Z, Bo (New York, UTC-4 by then) 04:00-09:00Z.
        let busy = [Busy {
            user_id: 1,
            starts_at: ms("2027-03-26T08:30Z"),
            ends_at: ms("2027-03-26T09:00Z"),
            record: None,
            title: None,
        }];
        let free = free_slots(
            &[ann.clone(), bo],
            &busy,
            ms("2027-03-25T00:00Z"),
            ms("2027-03-27T00:00Z"),
            30,
            0,
        )
        .unwrap();
        assert_eq!(free, vec![ms("2027-03-26T08:00Z")]);
        // Thursday is Ann's day off.
        let thursday = free_slots(
            &[ann],
            &[],
            ms("2027-03-25T00:00Z"),
            ms("2027-03-26T00:00Z"),
            30,
            0,
        )
        .unwrap();
        assert!(thursday.is_empty());
    }

    #[test]
    fn past_slots_and_unknown_zones() {
        let from = ms("2027-03-29T00:00Z");
        let later = free_slots(
            &[berlin()],
            &[],
            from,
            from + 86_400_000,
            60,
            ms("2027-03-29T12:30Z"),
        )
        .unwrap();
        assert_eq!(later.first(), Some(&ms("2027-03-29T13:00Z")));
        let bad = Calendar {
            time_zone: "Mars/Olympus".into(),
            ..Calendar::default()
        };
        assert!(available(&bad, from, from + 1)
            .unwrap_err()
            .contains("IANA"));
    }
}
