//! A field's type and what follows from it: storage, parsing text from forms and CSV files,
//! validation, and how a value is shown and edited.

use super::time::{
    format_duration, format_instant, instant_in_range, parse_duration, parse_instant,
    MAX_DURATION_SECS,
};
use super::{RecordKind, Value};

/// How a field is stored, edited and validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldKind {
    /// One line of text of at most `max` characters.
    Text {
        /// Maximum length in characters.
        max: usize,
    },
    /// Long free text (notes), at most 20,000 characters.
    LongText,
    /// A whole number within `min..=max`.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A non-negative decimal number.
    Decimal,
    /// An amount of money: stored as integer cents, edited as dollars with up to 2 decimals.
    Money,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of a fixed list of values.
    Choice(&'static [&'static str]),
    /// The id of another record of the given kind in the same workspace.
    Ref(RecordKind),
    /// The id of a member of the workspace.
    Member,
    /// A comma-separated list of short labels, stored normalised (`a, b, c`).
    Tags,
    /// An instant (a meeting's start): stored as Unix milliseconds, UTC; written as RFC
    /// 3339 with its zone (`2026-11-22T14:05Z`), shown in the viewer's time zone.
    DateTime,
    /// A length of time (a call's duration): stored as whole seconds (at most 366 days),
    /// written `1h 30m`, `45m`, `1:30` or a number of minutes.
    Duration,
    /// Yes or no: stored as 1 or 0; written `true`/`false`, `yes`/`no`, `1`/`0`.
    Boolean,
    /// A reference that can point at a record of any of these kinds (a task "regarding" a
    /// customer or a deal): stored as `noun:id` text (`deal:12`).
    AnyRef(&'static [RecordKind]),
    /// A list of members of the workspace (a meeting's participants): stored as their
    /// ids, ascending, comma-separated (`3,5,8`).
    Members,
    /// Members' answers to an invitation (a meeting's RSVPs): `id:response` pairs by id
    /// ascending (`3:accepted,5:declined`), each response one of [`RSVP_RESPONSES`]; a
    /// participant without an entry has not answered ("invited"). Set through the RSVP
    /// endpoint, each member only their own answer; forms show it read-only.
    Responses,
}

/// Answers to an invitation, the first being "not answered yet".
pub const RSVP_RESPONSES: &[&str] = &["invited", "accepted", "declined", "tentative"];

/// What one value of a reference field points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    /// A record of a kind, by id.
    Record(RecordKind, i64),
    /// A member of the workspace, by user id.
    Member(i64),
}

impl FieldKind {
    /// What a stored value of this kind points at: nothing for fields that are not
    /// references, one target for `Ref`, `Member` and `AnyRef`, several for `Members`.
    pub fn references(self, value: &Value) -> Vec<Reference> {
        match (self, value) {
            (FieldKind::Ref(kind), Value::Int(id)) => vec![Reference::Record(kind, *id)],
            (FieldKind::Member, Value::Int(id)) => vec![Reference::Member(*id)],
            (FieldKind::AnyRef(kinds), Value::Text(s)) => parse_any_ref(kinds, s)
                .map(|(kind, id)| vec![Reference::Record(kind, id)])
                .unwrap_or_default(),
            (FieldKind::Members, Value::Text(s)) => {
                member_ids(s).into_iter().map(Reference::Member).collect()
            }
            (FieldKind::Responses, Value::Text(s)) => responses(s)
                .into_iter()
                .map(|(id, _)| Reference::Member(id))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The record kinds a reference field points at: one for [`FieldKind::Ref`], several
    /// for [`FieldKind::AnyRef`], none for other fields.
    pub fn targets(self) -> &'static [RecordKind] {
        match self {
            FieldKind::Ref(target) => std::slice::from_ref(&target.spec().kind),
            FieldKind::AnyRef(kinds) => kinds,
            _ => &[],
        }
    }
}

/// How a value of a field is kept in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// `TEXT`.
    Text,
    /// `BIGINT`.
    Int,
    /// `DOUBLE PRECISION` / `REAL`.
    Float,
}

/// One field of a record kind. `name` is also its database column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldDef {
    /// Field and column name (`snake_case`).
    pub name: &'static str,
    /// Caption shown to people (a form's label, a column's heading).
    pub caption: &'static str,
    /// Type, editing and validation.
    pub kind: FieldKind,
    /// Whether a value is required.
    pub required: bool,
}

/// An optional field.
pub(super) const fn field(name: &'static str, caption: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        caption,
        kind,
        required: false,
    }
}

/// A field that must have a value.
pub(super) const fn required(
    name: &'static str,
    caption: &'static str,
    kind: FieldKind,
) -> FieldDef {
    FieldDef {
        name,
        caption,
        kind,
        required: true,
    }
}

impl FieldDef {
    /// How this field is kept in the database.
    pub fn storage(&self) -> Storage {
        match self.kind {
            FieldKind::Text { .. }
            | FieldKind::LongText
            | FieldKind::Date
            | FieldKind::Choice(_)
            | FieldKind::Tags
            | FieldKind::AnyRef(_)
            | FieldKind::Members
            | FieldKind::Responses => Storage::Text,
            FieldKind::Integer { .. }
            | FieldKind::Money
            | FieldKind::Ref(_)
            | FieldKind::Member
            | FieldKind::DateTime
            | FieldKind::Duration
            | FieldKind::Boolean => Storage::Int,
            FieldKind::Decimal => Storage::Float,
        }
    }

    /// Checks and normalises a value for this field: text from a form is parsed into the
    /// field's type, text is trimmed, and an empty value becomes `Null`.
    ///
    /// Errors: a message for people, naming what is wrong (the caller adds the field).
    pub fn normalize(&self, value: Value) -> Result<Value, String> {
        let value = match value {
            Value::Text(s) => {
                let t = s.trim();
                if t.is_empty() {
                    Value::Null
                } else {
                    self.parse_text(t)?
                }
            }
            other => other,
        };
        if value.is_null() {
            return if self.required {
                Err(format!("{} is required", self.caption))
            } else {
                Ok(Value::Null)
            };
        }
        self.check_typed(value)
    }

    fn parse_text(&self, t: &str) -> Result<Value, String> {
        Ok(match self.kind {
            FieldKind::Integer { .. } | FieldKind::Ref(_) | FieldKind::Member => Value::Int(
                t.replace([',', '_'], "")
                    .parse()
                    .map_err(|_| format!("{} must be a whole number", self.caption))?,
            ),
            FieldKind::Decimal => Value::Float(
                t.replace(',', "")
                    .parse()
                    .map_err(|_| format!("{} must be a number", self.caption))?,
            ),
            FieldKind::Money => Value::Int(parse_money(t).ok_or_else(|| {
                format!("{} must be an amount like 1250 or 1250.50", self.caption)
            })?),
            FieldKind::Tags => {
                let tags: Vec<&str> = t
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if tags.is_empty() {
                    Value::Null
                } else {
                    Value::Text(tags.join(", "))
                }
            }
            FieldKind::DateTime => Value::Int(match t.parse::<i64>() {
                Ok(ms) => ms,
                Err(_) => parse_instant(t).ok_or_else(|| {
                    format!(
                        "{} must be a date and time with its zone, like 2026-11-22T14:05Z",
                        self.caption
                    )
                })?,
            }),
            FieldKind::Duration => Value::Int(parse_duration(t).ok_or_else(|| {
                format!(
                    "{} must be a duration like 1h 30m, 45m or 1:30",
                    self.caption
                )
            })?),
            FieldKind::Boolean => match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "on" => Value::Int(1),
                "false" | "no" | "n" | "0" | "off" => Value::Int(0),
                _ => return Err(format!("{} must be yes or no", self.caption)),
            },
            FieldKind::Members => {
                let mut ids = t
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse::<i64>().ok().filter(|id| *id > 0))
                    .collect::<Option<Vec<i64>>>()
                    .ok_or_else(|| format!("{} must be chosen from the members", self.caption))?;
                ids.sort_unstable();
                ids.dedup();
                if ids.is_empty() {
                    Value::Null
                } else {
                    Value::Text(join_ids(&ids))
                }
            }
            FieldKind::Responses => {
                let mut pairs = Vec::new();
                for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let pair = part.split_once(':').and_then(|(id, answer)| {
                        let id = id.trim().parse::<i64>().ok().filter(|id| *id > 0)?;
                        let answer = RSVP_RESPONSES
                            .iter()
                            .find(|r| r.eq_ignore_ascii_case(answer.trim()))?;
                        Some((id, *answer))
                    });
                    pairs.push(pair.ok_or_else(|| {
                        format!(
                            "{} must be member:answer pairs, each answer one of {}",
                            self.caption,
                            RSVP_RESPONSES.join(", ")
                        )
                    })?);
                }
                if pairs.is_empty() {
                    Value::Null
                } else {
                    Value::Text(join_responses(pairs))
                }
            }
            _ => Value::Text(t.to_string()),
        })
    }

    fn check_typed(&self, value: Value) -> Result<Value, String> {
        let caption = self.caption;
        match (self.kind, value) {
            (FieldKind::Text { max }, Value::Text(s)) => {
                if s.contains(['\n', '\r']) {
                    Err(format!("{caption} must be a single line"))
                } else if s.chars().count() > max {
                    Err(format!("{caption} must be at most {max} characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::LongText, Value::Text(s)) => {
                if s.chars().count() > 20_000 {
                    Err(format!("{caption} must be at most 20000 characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::Tags, Value::Text(s)) => {
                if s.chars().count() > 500 {
                    Err(format!("{caption} must be at most 500 characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::Integer { min, max }, Value::Int(i)) => {
                if (min..=max).contains(&i) {
                    Ok(Value::Int(i))
                } else {
                    Err(format!("{caption} must be between {min} and {max}"))
                }
            }
            (FieldKind::Decimal, Value::Int(i)) => self.check_typed(Value::Float(i as f64)),
            (FieldKind::Decimal, Value::Float(f)) => {
                if f.is_finite() && f >= 0.0 {
                    Ok(Value::Float(f))
                } else {
                    Err(format!("{caption} must be a number of at least 0"))
                }
            }
            (FieldKind::Money, Value::Int(c)) => {
                if c >= 0 {
                    Ok(Value::Int(c))
                } else {
                    Err(format!("{caption} must not be negative"))
                }
            }
            (FieldKind::Date, Value::Text(s)) => {
                if is_iso_date(&s) {
                    Ok(Value::Text(s))
                } else {
                    Err(format!("{caption} must be a date like 2017-03-01"))
                }
            }
            (FieldKind::Choice(options), Value::Text(s)) => {
                match options.iter().find(|o| o.eq_ignore_ascii_case(&s)) {
                    Some(o) => Ok(Value::Text((*o).to_string())),
                    None => Err(format!("{caption} must be one of {}", options.join(", "))),
                }
            }
            (FieldKind::Ref(_) | FieldKind::Member, Value::Int(i)) => {
                if i > 0 {
                    Ok(Value::Int(i))
                } else {
                    Err(format!("{caption} must be chosen from the list"))
                }
            }
            (FieldKind::DateTime, Value::Int(ms)) => {
                if instant_in_range(ms) {
                    Ok(Value::Int(ms))
                } else {
                    Err(format!("{caption} must be between the years 1900 and 2199"))
                }
            }
            (FieldKind::Duration, Value::Int(secs)) => {
                if (0..=MAX_DURATION_SECS).contains(&secs) {
                    Ok(Value::Int(secs))
                } else {
                    Err(format!("{caption} must be between 0 and 366 days"))
                }
            }
            (FieldKind::Boolean, Value::Int(b @ (0 | 1))) => Ok(Value::Int(b)),
            (FieldKind::AnyRef(kinds), Value::Text(s)) => match parse_any_ref(kinds, &s) {
                Some((kind, id)) => Ok(Value::Text(format!("{}:{id}", kind.noun()))),
                None => {
                    let nouns: Vec<&str> = kinds.iter().map(|k| k.noun()).collect();
                    Err(format!(
                        "{caption} must be a {}, chosen from the list",
                        nouns.join(" or ")
                    ))
                }
            },
            (FieldKind::Members, Value::Text(s)) => match self.parse_text(&s)? {
                Value::Text(ids) if ids.split(',').count() <= 200 => Ok(Value::Text(ids)),
                Value::Text(_) => Err(format!("{caption} must list at most 200 members")),
                _ => Ok(Value::Null),
            },
            (FieldKind::Responses, Value::Text(s)) => match self.parse_text(&s)? {
                Value::Text(r) if r.split(',').count() <= 200 => Ok(Value::Text(r)),
                Value::Text(_) => Err(format!("{caption} must list at most 200 answers")),
                _ => Ok(Value::Null),
            },
            _ => Err(format!("{caption} has a value of the wrong type")),
        }
    }

    /// The value as a form shows it in an input (money in dollars, ids as numbers).
    pub fn format_input(&self, value: &Value) -> String {
        match (self.kind, value) {
            (_, Value::Null) => String::new(),
            (FieldKind::Money, Value::Int(c)) => format_money(*c),
            (FieldKind::DateTime, Value::Int(ms)) => format_instant(*ms),
            (FieldKind::Duration, Value::Int(secs)) => format_duration(*secs),
            (FieldKind::Boolean, Value::Int(b)) => (*b != 0).to_string(),
            (_, Value::Int(i)) => i.to_string(),
            (_, Value::Float(f)) => f.to_string(),
            (_, Value::Text(s)) => s.clone(),
        }
    }

    /// The value as a list or card shows it, using `title` (what a reference points at,
    /// by its title) for references.
    pub fn format_display(&self, value: &Value, title: Option<&str>) -> String {
        match (self.kind, value) {
            (_, Value::Null) => String::new(),
            (FieldKind::Ref(_) | FieldKind::Member, Value::Int(i)) => {
                title.map(str::to_string).unwrap_or_else(|| format!("#{i}"))
            }
            (FieldKind::AnyRef(_) | FieldKind::Members, Value::Text(s)) => {
                title.map(str::to_string).unwrap_or_else(|| s.clone())
            }
            // "Ann: accepted, Bo: declined": the names come in id order, as the answers.
            (FieldKind::Responses, Value::Text(s)) => {
                let names: Vec<&str> = title.map(|t| t.split(", ").collect()).unwrap_or_default();
                let pairs = responses(s);
                pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (id, answer))| match names.get(i) {
                        Some(name) if names.len() == pairs.len() => format!("{name}: {answer}"),
                        _ => format!("#{id}: {answer}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            // The browser shows it in the viewer's zone (`LocalTime`); this is the fallback.
            (FieldKind::DateTime, Value::Int(ms)) => crate::model::format_utc(*ms),
            (FieldKind::Boolean, Value::Int(b)) => if *b != 0 { "Yes" } else { "No" }.into(),
            (FieldKind::Money, Value::Int(c)) => format!("${}", group_thousands(&format_money(*c))),
            (FieldKind::Integer { min, .. }, Value::Int(i)) if min >= 1600 => i.to_string(),
            (FieldKind::Integer { .. }, Value::Int(i)) => group_thousands(&i.to_string()),
            _ => self.format_input(value),
        }
    }
}

/// The kind and id of an [`FieldKind::AnyRef`] value (`deal:12`) if the kind is one of
/// `kinds` and the id positive.
pub fn parse_any_ref(kinds: &[RecordKind], s: &str) -> Option<(RecordKind, i64)> {
    let (noun, id) = s.trim().split_once(':')?;
    let kind = kinds.iter().copied().find(|k| k.noun() == noun.trim())?;
    let id = id.trim().parse::<i64>().ok().filter(|id| *id > 0)?;
    Some((kind, id))
}

/// The member ids of a [`FieldKind::Members`] value (`3,5,8`); unparsable parts are skipped
/// (stored values are normalised).
pub fn member_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// The (member id, answer) pairs of a [`FieldKind::Responses`] value
/// (`3:accepted,5:declined`), by id; unparsable parts are skipped (stored values are
/// normalised).
pub fn responses(s: &str) -> Vec<(i64, &'static str)> {
    s.split(',')
        .filter_map(|p| {
            let (id, answer) = p.split_once(':')?;
            let answer = RSVP_RESPONSES.iter().find(|r| **r == answer.trim())?;
            Some((id.trim().parse().ok()?, *answer))
        })
        .collect()
}

/// `value` (a [`FieldKind::Responses`] value, or `Null`) with `user`'s answer set to
/// `answer` (one of [`RSVP_RESPONSES`]), normalised: ordered by id, one entry per member.
pub fn with_response(value: &Value, user: i64, answer: &'static str) -> Value {
    let mut pairs = value.as_text().map(responses).unwrap_or_default();
    pairs.retain(|(id, _)| *id != user);
    pairs.push((user, answer));
    Value::Text(join_responses(pairs))
}

fn join_responses(mut pairs: Vec<(i64, &str)>) -> String {
    pairs.sort_by_key(|(id, _)| *id);
    // The last answer given for a member wins.
    let mut out: Vec<(i64, &str)> = Vec::new();
    for (id, a) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == id => last.1 = a,
            _ => out.push((id, a)),
        }
    }
    out.iter()
        .map(|(id, a)| format!("{id}:{a}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Parses dollars with at most two decimals ("1,250.5" -> 125050 cents).
pub fn parse_money(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('$').replace(',', "");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// Formats cents as dollars, without a currency sign ("125050" -> "1250.50", "500" -> "5").
pub fn format_money(cents: i64) -> String {
    if cents % 100 == 0 {
        (cents / 100).to_string()
    } else {
        format!("{}.{:02}", cents / 100, (cents % 100).abs())
    }
}

fn group_thousands(s: &str) -> String {
    let (int, rest) = match s.split_once('.') {
        Some((i, r)) => (i, Some(r)),
        None => (s, None),
    };
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(*c);
    }
    if let Some(r) = rest {
        out.push('.');
        out.push_str(r);
    }
    out
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}
