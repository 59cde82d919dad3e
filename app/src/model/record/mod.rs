//! One description of every record kind (customers, deals, products), so that storage,
//! validation, forms, lists and import share one mechanism instead of a copy per kind.
//!
//! A kind is one [`KindSpec`] (a table, a list of [`FieldDef`]s, its title and natural
//! key, search, sort and related kinds); a [`Record`] is a map of field name to
//! [`Value`] with the bookkeeping every record carries (version, created/updated by and at,
//! tombstone).

mod fields;
mod kinds;
pub mod merge;
pub mod time;

pub use fields::*;
pub use kinds::*;

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
    /// A phone call with a customer, scheduled or made.
    Call,
    /// A piece of work with an assignee and a due date.
    Task,
    /// A meeting with participants, booked into their free time.
    Meeting,
}

/// Field values by field name.
pub type Fields = BTreeMap<String, Value>;

/// A field's value. On the wire: JSON `null`, an integer, a float or a string.
///
/// Money is an integer number of cents; dates are `YYYY-MM-DD` strings; references to other
/// records and to members are their integer ids.
///
/// Serialized untagged; deserialized by a visitor of its own from whatever the input holds
/// (serde's `untagged` would buffer every value first, in code the browser pays for in
/// each record type it decodes).
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
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

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Reads a [`Value`]: null (or a missing option) as `Null`, an integer that fits `i64` as
/// `Int`, any other number as `Float`, a string as `Text`; anything else is an error.
struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("null, a number or a string")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Value, E> {
        std::str::from_utf8(v)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Bytes(v), &self))
    }
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
    /// Titles of what reference fields point at (`customer_id` -> "Acme Corporation").
    pub titles: BTreeMap<String, String>,
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
                def.format_display(self.get(field), self.titles.get(field).map(String::as_str))
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

/// What a list asks for: text search, exact-match filters, sort and a page (by keyset
/// cursor). Every field
/// is optional on the wire (`{}` is the first page of everything, by title).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RecordQuery {
    /// Case-insensitive substring searched in the kind's search fields.
    pub search: Option<String>,
    /// Field name -> value it must equal (`Null` means "is empty").
    pub filters: BTreeMap<String, Value>,
    /// Field to sort by; `updated_at` or `created_at` also work. Default: the kind's default sort field.
    pub sort: Option<String>,
    /// Sort direction.
    pub dir: SortDir,
    /// Keyset cursor: the page of rows after this one (a page's `next`).
    pub after: Option<String>,
    /// Keyset cursor: the page of rows before this one (a page's `prev`); ignored when
    /// `after` is set.
    pub before: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: i64,
}

impl RecordQuery {
    /// The largest page a list may ask for.
    pub const MAX_LIMIT: i64 = 500;

    /// The newest records (by last change) in one column of a board: what a board
    /// column shows.
    pub fn board_column(board: &BoardSpec, column: &str) -> RecordQuery {
        let mut q = RecordQuery {
            sort: Some("updated_at".into()),
            dir: SortDir::Desc,
            limit: 30,
            ..Default::default()
        };
        q.filters
            .insert(board.field.into(), Value::Text(column.into()));
        q
    }

    /// The newest records (by last change, up to 200) of a related list: the records of
    /// `related.kind` that point at record `id` of kind `here`.
    pub fn related(here: RecordKind, related: &Related, id: i64) -> RecordQuery {
        let mut q = RecordQuery {
            sort: Some("updated_at".into()),
            dir: SortDir::Desc,
            limit: 200,
            ..Default::default()
        };
        // A reference to one of several kinds holds `noun:id`.
        let target = match related.kind.field(related.field).map(|d| d.kind) {
            Some(FieldKind::AnyRef(_)) => Value::Text(format!("{}:{id}", here.noun())),
            _ => Value::Int(id),
        };
        q.filters.insert(related.field.into(), target);
        q
    }

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
    fn values_read_back_what_they_wrote_and_refuse_other_json() {
        let values = [
            Value::Null,
            Value::Int(-7),
            Value::Int(i64::MAX),
            Value::Float(2.5),
            Value::Text("12".into()),
        ];
        for v in values {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v, "{json}");
        }
        // Past i64, a number is a float (as the untagged derive read it).
        assert_eq!(
            serde_json::from_str::<Value>("18446744073709551615").unwrap(),
            Value::Float(18446744073709551615.0)
        );
        let fields: Fields = serde_json::from_str(r#"{"a":null,"b":3,"c":"x"}"#).unwrap();
        assert_eq!(fields["b"], Value::Int(3));
        for bad in ["true", "[1]", r#"{"a":1}"#] {
            let e = serde_json::from_str::<Value>(bad).unwrap_err().to_string();
            assert!(e.contains("null, a number or a string"), "{bad}: {e}");
        }
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
            assert_eq!(kinds::KINDS[i].kind, kind);
            let spec = kind.spec();
            assert!(kind.field(spec.title_field).is_some(), "{kind:?} title");
            assert!(spec.natural_key.is_none_or(|k| kind.field(k).is_some()));
            assert!(spec.search_fields.iter().all(|f| kind.field(f).is_some()));
            if let Some(b) = &spec.board {
                assert!(matches!(
                    kind.field(b.field).map(|d| d.kind),
                    Some(FieldKind::Choice(_))
                ));
                assert!(b
                    .amount
                    .is_none_or(|a| kind.field(a).map(|d| d.kind) == Some(FieldKind::Money)));
            }
            for r in spec.related {
                let targets = r.kind.field(r.field).map(|d| d.kind.targets());
                assert!(
                    targets.is_some_and(|t| t.contains(&kind)),
                    "{kind:?} related"
                );
            }
            if let Some(s) = &spec.schedule {
                assert!(kind.field(s.start).map(|d| d.kind) == Some(FieldKind::DateTime));
                assert!(s.people.iter().all(|p| matches!(
                    kind.field(p).map(|d| d.kind),
                    Some(FieldKind::Member | FieldKind::Members)
                )));
                assert!(s
                    .responses
                    .is_none_or(|r| kind.field(r).map(|d| d.kind) == Some(FieldKind::Responses)));
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

    /// Fields of the kinds the next records need (calls, tasks, meetings), as they will be
    /// declared.
    const STARTS: FieldDef = FieldDef {
        name: "starts_at",
        caption: "Starts",
        kind: FieldKind::DateTime,
        required: false,
    };
    const LENGTH: FieldDef = FieldDef {
        name: "duration",
        caption: "Duration",
        kind: FieldKind::Duration,
        required: false,
    };
    const DONE: FieldDef = FieldDef {
        name: "done",
        caption: "Done",
        kind: FieldKind::Boolean,
        required: true,
    };
    const REGARDING: FieldDef = FieldDef {
        name: "regarding",
        caption: "Regarding",
        kind: FieldKind::AnyRef(&[RecordKind::Customer, RecordKind::Deal]),
        required: false,
    };
    const PARTICIPANTS: FieldDef = FieldDef {
        name: "participants",
        caption: "Participants",
        kind: FieldKind::Members,
        required: false,
    };

    fn typed(def: &FieldDef, s: &str) -> Result<Value, String> {
        def.normalize(Value::Text(s.into()))
    }

    #[test]
    fn the_new_field_kinds_parse_check_and_show_their_values() {
        // Date-time: an instant with its zone, kept as Unix ms; written back as RFC 3339.
        let ms = typed(&STARTS, "2026-11-22T15:05+01:00").unwrap();
        assert_eq!(ms, Value::Int(1_795_356_300_000));
        assert_eq!(STARTS.format_input(&ms), "2026-11-22T14:05Z");
        assert_eq!(STARTS.format_display(&ms, None), "2026-11-22 14:05 UTC");
        assert!(typed(&STARTS, "2026-11-22 15:05")
            .unwrap_err()
            .contains("zone"));
        assert!(STARTS.normalize(Value::Int(i64::MAX)).is_err());
        assert_eq!(STARTS.storage(), Storage::Int);

        // Duration: whole seconds.
        let d = typed(&LENGTH, "1h 30m").unwrap();
        assert_eq!(d, Value::Int(5400));
        assert_eq!(LENGTH.format_input(&d), "1h 30m");
        assert!(typed(&LENGTH, "soon")
            .unwrap_err()
            .starts_with("Duration must be"));
        assert!(LENGTH.normalize(Value::Int(-1)).is_err());

        // Boolean: 1 or 0, shown as Yes or No; a required one refuses empty, not "no".
        assert_eq!(typed(&DONE, "Yes").unwrap(), Value::Int(1));
        assert_eq!(typed(&DONE, "false").unwrap(), Value::Int(0));
        assert_eq!(DONE.format_display(&Value::Int(0), None), "No");
        assert_eq!(DONE.format_input(&Value::Int(1)), "true");
        assert!(typed(&DONE, "").unwrap_err().contains("required"));
        assert!(typed(&DONE, "maybe").is_err());
        assert!(DONE.normalize(Value::Int(2)).is_err());

        // A reference to one of several kinds: `noun:id`, only of the kinds declared.
        assert_eq!(
            typed(&REGARDING, " deal : 12 ").unwrap(),
            Value::Text("deal:12".into())
        );
        let err = typed(&REGARDING, "product:3").unwrap_err();
        assert_eq!(
            err,
            "Regarding must be a customer or deal, chosen from the list"
        );
        assert!(typed(&REGARDING, "deal:0").is_err());
        assert_eq!(
            REGARDING.kind.references(&Value::Text("customer:7".into())),
            vec![Reference::Record(RecordKind::Customer, 7)]
        );
        assert_eq!(REGARDING.storage(), Storage::Text);

        // A list of members: ids ascending, without repeats.
        let p = typed(&PARTICIPANTS, "8, 3,8 ,5").unwrap();
        assert_eq!(p, Value::Text("3,5,8".into()));
        assert_eq!(
            PARTICIPANTS.kind.references(&p),
            vec![
                Reference::Member(3),
                Reference::Member(5),
                Reference::Member(8)
            ]
        );
        assert_eq!(typed(&PARTICIPANTS, " , ").unwrap(), Value::Null);
        assert!(typed(&PARTICIPANTS, "3,ann").is_err());
        assert_eq!(
            PARTICIPANTS.format_display(&p, Some("Ann, Bo, Cy")),
            "Ann, Bo, Cy"
        );
    }
}
