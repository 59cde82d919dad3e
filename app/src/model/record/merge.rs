//! The three-way merge of an edit, per field, as one pure function: what the stores run
//! inside an update's transaction and what the property test checks (DESIGN.md,
//! "Concurrency control").

use std::collections::{BTreeMap, BTreeSet};

use super::{FieldChange, Fields, Value};
use crate::error::FieldConflict;

/// What merging an edit into the stored record decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Merged {
    /// Fields to write, with their new values (only those whose value changes).
    pub apply: Fields,
    /// Fields someone else set to another value since the editor's base: nothing of
    /// the edit may be applied while this is not empty.
    pub conflicts: Vec<FieldConflict>,
    /// Fields written by explicit overwrite (last writer wins, confirmed by the user)
    /// over a value someone else stored since the editor's base.
    pub overwritten: Vec<String>,
}

/// Merges `changes` (per field: the value the editor started from and the one they
/// want) into `stored` (the record's fields as committed now), three-way per field:
///
/// - the wanted value equals the base (nothing changed once normalized, e.g. a trailing
///   space): left alone, whatever is stored;
/// - stored equals the base: the field is applied (unless the value is already there);
/// - stored differs from the base but equals the wanted value: nothing to do (both sides
///   made the same change);
/// - stored differs from both: a conflict with base, mine and theirs, unless the field
///   is in `overwrite`, where the wanted value wins and the field is reported in
///   [`Merged::overwritten`].
///
/// A field missing from `stored` is `Null`. Fields not in `changes` are never touched.
/// `conflicts` come in field-name order, without who and when (the store adds them).
pub fn merge(
    stored: &Fields,
    changes: &BTreeMap<String, FieldChange>,
    overwrite: &BTreeSet<String>,
) -> Merged {
    let mut out = Merged::default();
    for (field, change) in changes {
        let theirs = stored.get(field).unwrap_or(&Value::Null);
        if theirs == &change.value || (change.value == change.base && !overwrite.contains(field)) {
            continue;
        }
        if theirs == &change.base {
            out.apply.insert(field.clone(), change.value.clone());
        } else if overwrite.contains(field) {
            out.apply.insert(field.clone(), change.value.clone());
            out.overwritten.push(field.clone());
        } else {
            out.conflicts.push(FieldConflict {
                field: field.clone(),
                base: change.base.clone(),
                mine: change.value.clone(),
                theirs: theirs.clone(),
                by: None,
                by_name: None,
                at: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn change(base: Value, value: Value) -> FieldChange {
        FieldChange { base, value }
    }

    #[test]
    fn one_sided_changes_apply_and_clashes_are_reported() {
        let stored = Fields::from([
            ("name".into(), text("Acme")),
            ("sector".into(), text("retail")),
            ("city".into(), text("Oslo")),
            ("phone".into(), text("555-0102")),
        ]);
        let changes = BTreeMap::from([
            // Nobody else touched it: applied.
            ("name".to_string(), change(text("Acme"), text("Acme Inc"))),
            // Someone set it to what I want: done.
            ("sector".to_string(), change(text("media"), text("retail"))),
            // Someone set it to something else: a conflict.
            (
                "city".to_string(),
                change(text("Bergen"), text("Trondheim")),
            ),
            // Not stored yet (Null) and my base was Null: applied.
            ("tags".to_string(), change(Value::Null, text("vip"))),
            // Unchanged by me (someone else changed it since): theirs stays, no clash.
            (
                "phone".to_string(),
                change(text("555-0101"), text("555-0101")),
            ),
        ]);
        let m = merge(&stored, &changes, &BTreeSet::new());
        assert_eq!(
            m.apply,
            Fields::from([
                ("name".into(), text("Acme Inc")),
                ("tags".into(), text("vip"))
            ])
        );
        assert_eq!(m.conflicts.len(), 1);
        let c = &m.conflicts[0];
        assert_eq!(
            (&c.field[..], &c.base, &c.mine, &c.theirs),
            ("city", &text("Bergen"), &text("Trondheim"), &text("Oslo"))
        );
        assert!(m.overwritten.is_empty());

        let m = merge(&stored, &changes, &BTreeSet::from(["city".to_string()]));
        assert!(m.conflicts.is_empty());
        assert_eq!(m.apply.get("city"), Some(&text("Trondheim")));
        assert_eq!(m.overwritten, vec!["city".to_string()]);
    }

    /// A small domain, so that equal values (base = theirs, mine = theirs) come up often.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (0i64..3).prop_map(Value::Int),
            prop::sample::select(vec!["a", "b", "c"]).prop_map(text),
        ]
    }

    const NAMES: [&str; 6] = ["f0", "f1", "f2", "f3", "f4", "f5"];

    proptest! {
        #[test]
        fn the_merge_applies_one_sided_changes_reports_clashes_and_touches_nothing_else(
            stored in prop::collection::vec(prop::option::of(value()), NAMES.len()),
            edits in prop::collection::vec(prop::option::of((value(), value())), NAMES.len()),
            forced in prop::collection::vec(any::<bool>(), NAMES.len()),
        ) {
            let stored: Fields = NAMES.iter().zip(&stored)
                .filter_map(|(n, v)| v.clone().map(|v| (n.to_string(), v)))
                .collect();
            let changes: BTreeMap<String, FieldChange> = NAMES.iter().zip(&edits)
                .filter_map(|(n, e)| e.clone().map(|(base, value)| (n.to_string(), change(base, value))))
                .collect();
            let overwrite: BTreeSet<String> = NAMES.iter().zip(&forced)
                .filter(|(_, f)| **f).map(|(n, _)| n.to_string()).collect();
            let m = merge(&stored, &changes, &overwrite);

            for name in NAMES {
                let theirs = stored.get(name).cloned().unwrap_or_default();
                let reported = m.conflicts.iter().find(|c| c.field == name);
                let Some(c) = changes.get(name) else {
                    // Not edited: never applied, never reported.
                    prop_assert!(!m.apply.contains_key(name) && reported.is_none());
                    continue;
                };
                if c.value == theirs {
                    // Already what the editor wants (same change on both sides): done.
                    prop_assert!(!m.apply.contains_key(name) && reported.is_none());
                } else if c.value == c.base && !overwrite.contains(name) {
                    // Not changed by the editor: theirs stays, nothing reported.
                    prop_assert!(!m.apply.contains_key(name) && reported.is_none());
                } else if c.base == theirs {
                    // Changed on one side only: applied.
                    prop_assert_eq!(m.apply.get(name), Some(&c.value));
                    prop_assert!(reported.is_none());
                } else if overwrite.contains(name) {
                    prop_assert_eq!(m.apply.get(name), Some(&c.value));
                    prop_assert!(m.overwritten.iter().any(|o| o == name));
                } else {
                    // Changed on both sides to different values: reported, with the
                    // three values.
                    prop_assert!(!m.apply.contains_key(name));
                    let r = reported.expect("a clash is reported");
                    prop_assert_eq!((&r.base, &r.mine, &r.theirs), (&c.base, &c.value, &theirs));
                }
            }
            prop_assert!(m.overwritten.iter().all(|o| overwrite.contains(o) && m.apply.contains_key(o)));
        }
    }
}
