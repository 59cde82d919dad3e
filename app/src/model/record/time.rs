//! Instants and durations as fields hold them, without a date-time crate in the browser:
//! an instant is Unix milliseconds (UTC) written as RFC 3339, a duration whole seconds
//! written as people do ("1h 30m").

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, <https://howardhinnant.github.io/date_algorithms.html>).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01, as (year, month, day): the inverse of
/// [`days_from_civil`], from the same source.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Earliest and latest instants a field accepts: years 1900 to 2199, in Unix ms.
const INSTANT_RANGE: (i64, i64) = (-2_208_988_800_000, 7_258_118_400_000);

/// Parses an RFC 3339 instant with its zone (`2026-11-22T14:05Z`,
/// `2026-11-22 14:05:30+01:00`, seconds and fractions optional) into Unix milliseconds.
/// `None` for anything else, including a time without a zone (it would be ambiguous).
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 17 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if !super::fields::is_iso_date(&s[..10]) || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let p = s.get(r)?;
        p.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| p.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    let mut rest = &s[16..];
    let mut second = 0;
    let mut millis = 0;
    if let Some(r) = rest.strip_prefix(':') {
        second = r
            .get(..2)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))?
            .parse()
            .ok()?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix('.') {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let frac = &r[..digits];
            millis = format!("{:0<3}", &frac[..digits.min(3)]).parse().ok()?;
            rest = &r[digits..];
        }
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = &rest.as_bytes()[1..];
            if z.len() != 5 || z[2] != b':' {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    let ms = secs * 1000 + millis;
    (INSTANT_RANGE.0..=INSTANT_RANGE.1)
        .contains(&ms)
        .then_some(ms)
}

/// Writes Unix milliseconds as RFC 3339 in UTC, to the minute when seconds are zero
/// (`2026-11-22T14:05Z`), else to the second: what [`parse_instant`] reads back.
pub fn format_instant(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if ss == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// Whether `ms` is an instant a field accepts (years 1900 to 2199).
pub fn instant_in_range(ms: i64) -> bool {
    (INSTANT_RANGE.0..=INSTANT_RANGE.1).contains(&ms)
}

/// Longest duration a field accepts: 366 days, in seconds.
pub const MAX_DURATION_SECS: i64 = 366 * 86_400;

/// Parses a duration as people write it into whole seconds: `1h 30m`, `1h30`, `90m`,
/// `45 min`, `30s`, `1:30` (hours and minutes), `1:30:15`, or a bare number of minutes
/// (`90`). `None` when it is none of these or longer than [`MAX_DURATION_SECS`].
pub fn parse_duration(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() {
        return None;
    }
    let total = if t.contains(':') {
        let parts: Vec<i64> = t
            .split(':')
            .map(|p| p.trim().parse::<i64>().ok().filter(|n| *n >= 0))
            .collect::<Option<_>>()?;
        match parts.as_slice() {
            [h, m] if *m < 60 => h * 3600 + m * 60,
            [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
            _ => return None,
        }
    } else if t.bytes().all(|c| c.is_ascii_digit()) {
        t.parse::<i64>().ok()?.checked_mul(60)?
    } else {
        // Number-unit pairs; a trailing bare number after hours means minutes ("1h30").
        let mut total = 0i64;
        let mut rest = t.as_str();
        let mut last_unit = "";
        while !rest.trim_start().is_empty() {
            rest = rest.trim_start();
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let n: i64 = rest[..digits].parse().ok()?;
            rest = rest[digits..].trim_start();
            let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..letters];
            rest = &rest[letters..];
            let factor = match unit {
                "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "" if last_unit == "h" => 60,
                _ => return None,
            };
            last_unit = if factor == 3600 { "h" } else { "other" };
            total = total.checked_add(n.checked_mul(factor)?)?;
        }
        total
    };
    (0..=MAX_DURATION_SECS).contains(&total).then_some(total)
}

/// Writes whole seconds the way [`parse_duration`] reads them: `1h 30m`, `45m`, `30s`,
/// `2h`, `0m`.
pub fn format_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 {
        parts.push(format!("{s}s"));
    }
    if parts.is_empty() {
        "0m".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_with_their_zone_and_round_trip() {
        let ms = parse_instant("2026-11-22T14:05Z").unwrap();
        assert_eq!(ms, 1_795_356_300_000);
        assert_eq!(format_instant(ms), "2026-11-22T14:05Z");
        // An offset is applied: 15:05 at +01:00 is 14:05 UTC.
        assert_eq!(parse_instant("2026-11-22 15:05+01:00"), Some(ms));
        assert_eq!(parse_instant("2026-11-22T14:05:30.25Z"), Some(ms + 30_250));
        assert_eq!(format_instant(ms + 30_000), "2026-11-22T14:05:30Z");
        assert_eq!(parse_instant("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(format_instant(-1000), "1969-12-31T23:59:59Z");
        // No zone, a bad date, a bad time, out of range: refused.
        for bad in [
            "2026-11-22T14:05",
            "2026-02-30T14:05Z",
            "2026-11-22T24:05Z",
            "2026-11-22T14:05+1",
            "1800-01-01T00:00Z",
            "tomorrow",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_dates_convert_both_ways() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 11, 22), (1900, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 2), 1);
    }

    #[test]
    fn durations_parse_as_people_write_them() {
        for (text, secs) in [
            ("1h 30m", 5400),
            ("1h30", 5400),
            ("90m", 5400),
            ("90", 5400),
            ("45 min", 2700),
            ("30s", 30),
            ("1:30", 5400),
            ("1:30:15", 5415),
            ("2 hours", 7200),
        ] {
            assert_eq!(parse_duration(text), Some(secs), "{text}");
        }
        for bad in ["", "1:75", "-5", "5 weeks", "h", "367 days", "9000h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(5415), "1h 30m 15s");
        assert_eq!(format_duration(0), "0m");
        assert_eq!(parse_duration(&format_duration(5415)), Some(5415));
    }
}
