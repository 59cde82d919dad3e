//! Matching names the way real exports need: known sectors and their misspellings,
//! loose name matching ("GTXPro" is "GTX Pro"), and resolving a name to an id with a
//! caveat saying how.

use super::*;

/// Sector names an account may have; a sector one or two letters away from one of these
/// is reported as a probable misspelling (and kept as written).
pub(super) const KNOWN_SECTORS: &[&str] = &[
    "agriculture",
    "construction",
    "education",
    "employment",
    "energy",
    "entertainment",
    "finance",
    "government",
    "healthcare",
    "hospitality",
    "insurance",
    "logistics",
    "manufacturing",
    "marketing",
    "media",
    "medical",
    "retail",
    "services",
    "software",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
];

/// Edit distance between two short words (Levenshtein), to spot misspellings.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known sector a value is probably a misspelling of, if any.
pub(super) fn misspelt_sector(sector: &str) -> Option<&'static str> {
    let s = sector.to_lowercase();
    if KNOWN_SECTORS.contains(&s.as_str()) {
        return None;
    }
    KNOWN_SECTORS
        .iter()
        .copied()
        .find(|k| edit_distance(&s, k) <= 2 && s.len() > 4)
}

/// A name reduced for loose matching: letters and digits only, lower-case
/// ("GTX Pro" and "GTXPro" both become "gtxpro").
pub(super) fn loose(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Resolves a name to an id: exactly, or loosely (then with a caveat saying so).
pub(super) fn resolve(
    names: &HashMap<String, i64>,
    what: &str,
    name: &str,
    caveats: &mut Vec<String>,
) -> Option<i64> {
    if let Some(id) = names.get(name) {
        return Some(*id);
    }
    let wanted = loose(name);
    if let Some((found, id)) = names.iter().find(|(n, _)| loose(n) == wanted) {
        caveats.push(format!("{what} \"{name}\" read as \"{found}\""));
        return Some(*id);
    }
    caveats.push(format!("unknown {what} \"{name}\"; left empty"));
    None
}
