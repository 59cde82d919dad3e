//! A field's type and what follows from it: storage, parsing text from forms and CSV files,
//! validation, and how a value is shown and edited.

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
    /// Label shown to people.
    pub label: &'static str,
    /// Type, editing and validation.
    pub kind: FieldKind,
    /// Whether a value is required.
    pub required: bool,
}

/// An optional field.
pub(super) const fn field(name: &'static str, label: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        label,
        kind,
        required: false,
    }
}

/// A field that must have a value.
pub(super) const fn required(name: &'static str, label: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        label,
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
            | FieldKind::Tags => Storage::Text,
            FieldKind::Integer { .. }
            | FieldKind::Money
            | FieldKind::Ref(_)
            | FieldKind::Member => Storage::Int,
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
                Err(format!("{} is required", self.label))
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
                    .map_err(|_| format!("{} must be a whole number", self.label))?,
            ),
            FieldKind::Decimal => Value::Float(
                t.replace(',', "")
                    .parse()
                    .map_err(|_| format!("{} must be a number", self.label))?,
            ),
            FieldKind::Money => {
                Value::Int(parse_money(t).ok_or_else(|| {
                    format!("{} must be an amount like 1250 or 1250.50", self.label)
                })?)
            }
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
            _ => Value::Text(t.to_string()),
        })
    }

    fn check_typed(&self, value: Value) -> Result<Value, String> {
        let label = self.label;
        match (self.kind, value) {
            (FieldKind::Text { max }, Value::Text(s)) => {
                if s.contains(['\n', '\r']) {
                    Err(format!("{label} must be a single line"))
                } else if s.chars().count() > max {
                    Err(format!("{label} must be at most {max} characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::LongText, Value::Text(s)) => {
                if s.chars().count() > 20_000 {
                    Err(format!("{label} must be at most 20000 characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::Tags, Value::Text(s)) => {
                if s.chars().count() > 500 {
                    Err(format!("{label} must be at most 500 characters"))
                } else {
                    Ok(Value::Text(s))
                }
            }
            (FieldKind::Integer { min, max }, Value::Int(i)) => {
                if (min..=max).contains(&i) {
                    Ok(Value::Int(i))
                } else {
                    Err(format!("{label} must be between {min} and {max}"))
                }
            }
            (FieldKind::Decimal, Value::Int(i)) => self.check_typed(Value::Float(i as f64)),
            (FieldKind::Decimal, Value::Float(f)) => {
                if f.is_finite() && f >= 0.0 {
                    Ok(Value::Float(f))
                } else {
                    Err(format!("{label} must be a number of at least 0"))
                }
            }
            (FieldKind::Money, Value::Int(c)) => {
                if c >= 0 {
                    Ok(Value::Int(c))
                } else {
                    Err(format!("{label} must not be negative"))
                }
            }
            (FieldKind::Date, Value::Text(s)) => {
                if is_iso_date(&s) {
                    Ok(Value::Text(s))
                } else {
                    Err(format!("{label} must be a date like 2017-03-01"))
                }
            }
            (FieldKind::Choice(options), Value::Text(s)) => {
                match options.iter().find(|o| o.eq_ignore_ascii_case(&s)) {
                    Some(o) => Ok(Value::Text((*o).to_string())),
                    None => Err(format!("{label} must be one of {}", options.join(", "))),
                }
            }
            (FieldKind::Ref(_) | FieldKind::Member, Value::Int(i)) => {
                if i > 0 {
                    Ok(Value::Int(i))
                } else {
                    Err(format!("{label} must be chosen from the list"))
                }
            }
            _ => Err(format!("{label} has a value of the wrong type")),
        }
    }

    /// The value as a form shows it in an input (money in dollars, ids as numbers).
    pub fn format_input(&self, value: &Value) -> String {
        match (self.kind, value) {
            (_, Value::Null) => String::new(),
            (FieldKind::Money, Value::Int(c)) => format_money(*c),
            (_, Value::Int(i)) => i.to_string(),
            (_, Value::Float(f)) => f.to_string(),
            (_, Value::Text(s)) => s.clone(),
        }
    }

    /// The value as a list or card shows it, using `label` for references.
    pub fn format_display(&self, value: &Value, label: Option<&str>) -> String {
        match (self.kind, value) {
            (_, Value::Null) => String::new(),
            (FieldKind::Ref(_) | FieldKind::Member, Value::Int(i)) => {
                label.map(str::to_string).unwrap_or_else(|| format!("#{i}"))
            }
            (FieldKind::Money, Value::Int(c)) => format!("${}", group_thousands(&format_money(*c))),
            (FieldKind::Integer { min, .. }, Value::Int(i)) if min >= 1600 => i.to_string(),
            (FieldKind::Integer { .. }, Value::Int(i)) => group_thousands(&i.to_string()),
            _ => self.format_input(value),
        }
    }
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
