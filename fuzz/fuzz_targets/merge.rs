//! The three-way merge of an edit (`merge`) on arbitrary records and edits: it never
//! panics, and its answer keeps the rules of DESIGN's "Concurrency control": only edited
//! fields are touched, an applied field takes the wanted value, a conflict is a field
//! someone else set to a third value and not overwritten, and merging again after
//! applying changes nothing more.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use app::model::record::merge::merge;
use app::model::{FieldChange, Fields, Value};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// A field value from a small domain, so that equal values come up often.
#[derive(Arbitrary, Debug)]
enum Seed {
    Null,
    Int(u8),
    Float(u8),
    Text(u8),
    Long(String),
}

impl Seed {
    fn value(&self) -> Value {
        match self {
            Seed::Null => Value::Null,
            Seed::Int(n) => Value::Int(i64::from(*n % 4)),
            Seed::Float(n) => Value::Float(f64::from(*n % 4) / 2.0),
            Seed::Text(n) => Value::Text(["a", "b", " a", ""][usize::from(*n % 4)].into()),
            Seed::Long(s) => Value::Text(s.clone()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    stored: Vec<(u8, Seed)>,
    changes: Vec<(u8, Seed, Seed)>,
    overwrite: Vec<u8>,
}

fn name(n: u8) -> String {
    format!("f{}", n % 6)
}

fuzz_target!(|input: Input| {
    let stored: Fields = input
        .stored
        .iter()
        .map(|(n, v)| (name(*n), v.value()))
        .collect();
    let changes: BTreeMap<String, FieldChange> = input
        .changes
        .iter()
        .map(|(n, base, value)| {
            let change = FieldChange {
                base: base.value(),
                value: value.value(),
            };
            (name(*n), change)
        })
        .collect();
    let overwrite: BTreeSet<String> = input.overwrite.iter().map(|n| name(*n)).collect();
    let merged = merge(&stored, &changes, &overwrite);
    for (field, value) in &merged.apply {
        assert_eq!(&changes[field].value, value, "{field}: the wanted value");
    }
    for c in &merged.conflicts {
        let theirs = stored.get(&c.field).unwrap_or(&Value::Null);
        assert!(changes.contains_key(&c.field) && !overwrite.contains(&c.field));
        assert!(theirs != &c.base && theirs != &c.mine && &c.theirs == theirs);
        assert!(!merged.apply.contains_key(&c.field));
    }
    for field in &merged.overwritten {
        assert!(overwrite.contains(field) && merged.apply.contains_key(field));
    }
    if merged.conflicts.is_empty() {
        let mut after = stored.clone();
        after.extend(merged.apply.clone());
        let again = merge(&after, &changes, &overwrite);
        assert!(
            again.conflicts.is_empty(),
            "merging again conflicts: {again:?}"
        );
        assert!(
            again.apply.is_empty(),
            "merging again changes more: {again:?}"
        );
    }
});
