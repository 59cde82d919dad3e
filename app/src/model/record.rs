//! One description of every record kind (customers, deals, products), so that storage,
//! validation, forms, lists and import share one mechanism instead of a copy per kind.
//!
//! A kind is one [`KindSpec`] (a table, a list of [`FieldDef`]s, its title and natural
//! key, search, sort and related kinds); a [`Record`] is a map of field name to
//! [`Value`] with the bookkeeping every record carries (version, created/updated by and at,
//! tombstone).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of record a workspace holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A company account.
    Customer,
    /// A sales opportunity with a customer.
    Deal,
    /// Something the team sells.
    Product,
}

/// Field values by field name.
pub type Fields = BTreeMap<String, Value>;

/// A field's value. On the wire: JSON `null`, an integer, a float or a string.
///
/// Money is an integer number of cents; dates are `YYYY-MM-DD` strings; references to other
/// records and to members are their integer ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// Integers, cents, ids.
    Int(i64),
    /// Decimals.
    Float(f64),
    /// Text, dates, choices, tags.
    Text(String),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

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

/// Deal stages, in pipeline order.
pub const DEAL_STAGES: &[&str] = &["Prospecting", "Engaging", "Won", "Lost"];
/// Customer statuses.
pub const CUSTOMER_STATUSES: &[&str] = &["prospect", "active", "inactive"];

const fn field(name: &'static str, label: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        label,
        kind,
        required: false,
    }
}

const fn required(name: &'static str, label: &'static str, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        label,
        kind,
        required: true,
    }
}

const CUSTOMER_FIELDS: &[FieldDef] = &[
    required("name", "Name", FieldKind::Text { max: 200 }),
    field("sector", "Sector", FieldKind::Text { max: 100 }),
    field("status", "Status", FieldKind::Choice(CUSTOMER_STATUSES)),
    field("owner_id", "Owner", FieldKind::Member),
    field(
        "year_established",
        "Year established",
        FieldKind::Integer {
            min: 1600,
            max: 2200,
        },
    ),
    field("revenue", "Revenue (USD millions)", FieldKind::Decimal),
    field(
        "employees",
        "Employees",
        FieldKind::Integer {
            min: 0,
            max: 100_000_000,
        },
    ),
    field(
        "office_location",
        "Office location",
        FieldKind::Text { max: 200 },
    ),
    field(
        "parent_id",
        "Parent customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    field("tags", "Tags", FieldKind::Tags),
    field("notes", "Notes", FieldKind::LongText),
];

const DEAL_FIELDS: &[FieldDef] = &[
    field("code", "Opportunity ID", FieldKind::Text { max: 40 }),
    field(
        "customer_id",
        "Customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    field("product_id", "Product", FieldKind::Ref(RecordKind::Product)),
    required("stage", "Stage", FieldKind::Choice(DEAL_STAGES)),
    field("owner_id", "Owner", FieldKind::Member),
    field("engage_date", "Engage date", FieldKind::Date),
    field("close_date", "Close date", FieldKind::Date),
    field("value", "Value (USD)", FieldKind::Money),
];

const PRODUCT_FIELDS: &[FieldDef] = &[
    required("name", "Name", FieldKind::Text { max: 200 }),
    field("series", "Series", FieldKind::Text { max: 100 }),
    field("price", "Price (USD)", FieldKind::Money),
];

/// One record kind, declared once: where it is stored, what it is called, its fields and
/// how it is named, found, searched, sorted and related to other kinds. Storage,
/// validation, lists, forms, merge, the change log, live sync and import all read it;
/// nothing else in the code matches on the kind to find these facts.
#[derive(Debug)]
pub struct KindSpec {
    /// The kind this declares.
    pub kind: RecordKind,
    /// Table name in the database.
    pub table: &'static str,
    /// Name as a word for people, and the room prefix (`customer`).
    pub noun: &'static str,
    /// Path segment under `/w/{slug}/` for its pages (`customers`).
    pub path: &'static str,
    /// Heading of its list and its entry in the workspace's navigation (`Customers`).
    pub plural: &'static str,
    /// What its list shows: columns (the first links to the record) and filters.
    pub list: ListSpec,
    /// The fields, in form order.
    pub fields: &'static [FieldDef],
    /// The field that names a record for people (headings, pickers, references).
    pub title_field: &'static str,
    /// The field that identifies a record on import, unique among a workspace's live
    /// records of the kind (a unique index); `None` for kinds without one.
    pub natural_key: Option<&'static str>,
    /// Whether a record created without its natural key gets a generated one (a deal's
    /// opportunity id).
    pub generated_key: bool,
    /// Fields a list's text search looks in.
    pub search_fields: &'static [&'static str],
    /// The field a list sorts by when none is asked for.
    pub default_sort: &'static str,
    /// Lists of other kinds shown on a record's page (a customer's deals).
    pub related: &'static [Related],
    /// The kind's board, if it has one (the deals pipeline).
    pub board: Option<BoardSpec>,
}

/// A board of a kind's records: a column per option of a choice field, a record moved
/// between columns by an edit of that field.
#[derive(Debug)]
pub struct BoardSpec {
    /// The choice field whose options are the columns (a deal's `stage`).
    pub field: &'static str,
    /// The board's heading ("Deals pipeline").
    pub title: &'static str,
    /// The field shown under each card's title.
    pub subtitle: &'static str,
    /// Fields shown on a card's last line.
    pub meta: &'static [&'static str],
}

/// A kind's list page: which fields are columns and which are offered as filters.
#[derive(Debug)]
pub struct ListSpec {
    /// Fields shown as columns, in order; the first links to the record.
    pub columns: &'static [&'static str],
    /// Fields offered as filters (choices, members, references, short text).
    pub filters: &'static [&'static str],
}

/// Records of another kind that point at a record through one of their fields, shown on
/// its page ("related: deals by customer").
#[derive(Debug)]
pub struct Related {
    /// The other kind.
    pub kind: RecordKind,
    /// Its reference field that points here.
    pub field: &'static str,
    /// The list's heading ("Deals").
    pub title: &'static str,
    /// Fields shown after each record's title.
    pub columns: &'static [&'static str],
}

/// Every kind's declaration, in the order of [`RecordKind`]'s variants.
static KINDS: [KindSpec; 3] = [
    KindSpec {
        kind: RecordKind::Customer,
        table: "customers",
        noun: "customer",
        path: "customers",
        plural: "Customers",
        list: ListSpec {
            columns: &[
                "name",
                "sector",
                "owner_id",
                "office_location",
                "revenue",
                "employees",
            ],
            filters: &["sector", "owner_id"],
        },
        fields: CUSTOMER_FIELDS,
        title_field: "name",
        natural_key: Some("name"),
        generated_key: false,
        search_fields: &["name", "sector", "office_location", "tags"],
        default_sort: "name",
        related: &[Related {
            kind: RecordKind::Deal,
            field: "customer_id",
            title: "Deals",
            columns: &["product_id", "stage", "owner_id", "value"],
        }],
        board: None,
    },
    KindSpec {
        kind: RecordKind::Deal,
        table: "deals",
        noun: "deal",
        path: "deals",
        plural: "Deals",
        list: ListSpec {
            columns: &[
                "code",
                "customer_id",
                "product_id",
                "stage",
                "owner_id",
                "value",
                "close_date",
            ],
            filters: &["stage", "owner_id"],
        },
        fields: DEAL_FIELDS,
        title_field: "code",
        natural_key: Some("code"),
        generated_key: true,
        search_fields: &["code"],
        default_sort: "code",
        related: &[],
        board: Some(BoardSpec {
            field: "stage",
            title: "Deals pipeline",
            subtitle: "customer_id",
            meta: &["product_id", "owner_id", "value"],
        }),
    },
    KindSpec {
        kind: RecordKind::Product,
        table: "products",
        noun: "product",
        path: "products",
        plural: "Products",
        list: ListSpec {
            columns: &["name", "series", "price"],
            filters: &["series"],
        },
        fields: PRODUCT_FIELDS,
        title_field: "name",
        natural_key: Some("name"),
        generated_key: false,
        search_fields: &["name", "series"],
        default_sort: "name",
        related: &[Related {
            kind: RecordKind::Deal,
            field: "product_id",
            title: "Deals",
            columns: &["customer_id", "stage", "owner_id", "value"],
        }],
        board: None,
    },
];

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 3] = [RecordKind::Customer, RecordKind::Deal, RecordKind::Product];

    /// The kind's declaration.
    pub fn spec(self) -> &'static KindSpec {
        &KINDS[self as usize]
    }

    /// Table name in the database.
    pub fn table(self) -> &'static str {
        self.spec().table
    }

    /// Name as a word for people ("customer").
    pub fn noun(self) -> &'static str {
        self.spec().noun
    }

    /// Path segment under `/w/{slug}/` for this kind's pages.
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// The kind's fields, in form order.
    pub fn fields(self) -> &'static [FieldDef] {
        self.spec().fields
    }

    /// The field definition called `name`, if the kind has one.
    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The field that names a record for people.
    pub fn title_field(self) -> &'static str {
        self.spec().title_field
    }

    /// The field that identifies a record on import, if the kind has one.
    pub fn natural_key(self) -> Option<&'static str> {
        self.spec().natural_key
    }

    /// Fields a list's text search looks in.
    pub fn search_fields(self) -> &'static [&'static str] {
        self.spec().search_fields
    }

    /// Parses a path segment back to its kind.
    pub fn from_path(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.path() == s)
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

/// A stored record of any kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its kind.
    pub kind: RecordKind,
    /// Database id, unique per kind.
    pub id: i64,
    /// The workspace it belongs to.
    pub workspace_id: i64,
    /// Bumped by one on every change; starts at 1.
    pub version: i64,
    /// Field values by name; a field missing here is `Null`.
    pub fields: Fields,
    /// Display labels of reference fields (`customer_id` -> "Acme Corporation").
    pub labels: BTreeMap<String, String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Who created it (`None` for the system).
    pub created_by: Option<i64>,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
    /// Who changed it last.
    pub updated_by: Option<i64>,
    /// Tombstone: when it was deleted, Unix milliseconds.
    pub deleted_at: Option<i64>,
    /// Tombstone: who deleted it.
    pub deleted_by: Option<i64>,
}

impl Record {
    /// The value of a field (`Null` when unset).
    pub fn get(&self, field: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.fields.get(field).unwrap_or(&NULL)
    }

    /// The name people know it by (a customer's name, a deal's code).
    pub fn title(&self) -> String {
        match self.get(self.kind.title_field()) {
            Value::Text(s) => s.clone(),
            _ => format!("{} #{}", self.kind.noun(), self.id),
        }
    }

    /// A field formatted for lists and cards.
    pub fn display(&self, field: &str) -> String {
        match self.kind.field(field) {
            Some(def) => {
                def.format_display(self.get(field), self.labels.get(field).map(String::as_str))
            }
            None => String::new(),
        }
    }
}

/// One field of an edit: the value the editor started from (`base`) and the new `value`.
/// The server applies it with a three-way merge against the stored value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The value the editor saw before editing.
    pub base: Value,
    /// The value they want.
    pub value: Value,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortDir {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What a list asks for: text search, exact-match filters, sort and a page. Every field
/// is optional on the wire (`{}` is the first page of everything, by label).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RecordQuery {
    /// Case-insensitive substring searched in the kind's search fields.
    pub search: Option<String>,
    /// Field name -> value it must equal (`Null` means "is empty").
    pub filters: BTreeMap<String, Value>,
    /// Field to sort by; `updated_at` or `created_at` also work. Default: the label field.
    pub sort: Option<String>,
    /// Sort direction.
    pub dir: SortDir,
    /// Index of the first row.
    pub offset: i64,
    /// Page size, 1 to 500 (default 50).
    pub limit: i64,
}

impl RecordQuery {
    /// The largest page a list may ask for.
    pub const MAX_LIMIT: i64 = 500;

    /// The page size to use: `limit` clamped to 1..=500, 50 when unset.
    pub fn page_size(&self) -> i64 {
        if self.limit <= 0 {
            50
        } else {
            self.limit.min(Self::MAX_LIMIT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: RecordKind, name: &str) -> &'static FieldDef {
        kind.field(name).expect("field exists")
    }

    #[test]
    fn form_text_is_parsed_into_the_field_type() {
        let revenue = def(RecordKind::Customer, "revenue");
        assert_eq!(
            revenue.normalize(Value::Text(" 1100.04 ".into())),
            Ok(Value::Float(1100.04))
        );
        let value = def(RecordKind::Deal, "value");
        assert_eq!(
            value.normalize(Value::Text("1,054.5".into())),
            Ok(Value::Int(105450))
        );
        let stage = def(RecordKind::Deal, "stage");
        assert_eq!(
            stage.normalize(Value::Text("won".into())),
            Ok(Value::Text("Won".into()))
        );
        let tags = def(RecordKind::Customer, "tags");
        assert_eq!(
            tags.normalize(Value::Text("a,, b ,c".into())),
            Ok(Value::Text("a, b, c".into()))
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_field_label() {
        let name = def(RecordKind::Customer, "name");
        assert_eq!(
            name.normalize(Value::Text("  ".into())),
            Err("Name is required".into())
        );
        let year = def(RecordKind::Customer, "year_established");
        assert!(year
            .normalize(Value::Text("19x6".into()))
            .unwrap_err()
            .contains("Year established"));
        assert!(year.normalize(Value::Int(99)).is_err());
        let stage = def(RecordKind::Deal, "stage");
        assert!(stage.normalize(Value::Text("Negotiating".into())).is_err());
        let date = def(RecordKind::Deal, "close_date");
        assert!(date.normalize(Value::Text("2017-02-30".into())).is_err());
        assert!(date.normalize(Value::Text("2016-02-29".into())).is_ok());
        let value = def(RecordKind::Deal, "value");
        assert!(value.normalize(Value::Text("12.345".into())).is_err());
        assert!(value.normalize(Value::Int(-1)).is_err());
    }

    #[test]
    fn money_round_trips_through_the_form() {
        let value = def(RecordKind::Deal, "value");
        for cents in [0, 5, 50, 105450, 100] {
            let shown = value.format_input(&Value::Int(cents));
            assert_eq!(value.normalize(Value::Text(shown)), Ok(Value::Int(cents)));
        }
        assert_eq!(
            value.format_display(&Value::Int(123456700), None),
            "$1,234,567"
        );
    }

    #[test]
    fn each_kind_is_declared_once_in_order() {
        for (i, kind) in RecordKind::ALL.into_iter().enumerate() {
            assert_eq!(KINDS[i].kind, kind);
            let spec = kind.spec();
            assert!(kind.field(spec.title_field).is_some(), "{kind:?} title");
            assert!(spec.natural_key.is_none_or(|k| kind.field(k).is_some()));
            assert!(spec.search_fields.iter().all(|f| kind.field(f).is_some()));
            if let Some(b) = &spec.board {
                assert!(matches!(
                    kind.field(b.field).map(|d| d.kind),
                    Some(FieldKind::Choice(_))
                ));
            }
            for r in spec.related {
                assert_eq!(
                    r.kind.field(r.field).map(|d| d.kind),
                    Some(FieldKind::Ref(kind)),
                    "{kind:?} related"
                );
            }
        }
    }

    #[test]
    fn values_keep_their_json_shape() {
        let v: Vec<Value> = serde_json::from_str(r#"[null, 5, 5.5, "x"]"#).expect("valid json");
        assert_eq!(
            v,
            vec![
                Value::Null,
                Value::Int(5),
                Value::Float(5.5),
                Value::Text("x".into())
            ]
        );
    }
}
