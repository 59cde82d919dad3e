//! Reading an export's CSV: rows by column name with their line numbers (an unreadable
//! row is reported as skipped), and a field set from raw text through the field's own
//! validation (a bad value is left empty with a caveat).

use super::*;

/// A CSV row as read: its 1-based line number and its values by (lower-cased) column.
pub(super) type RawRow = (u64, HashMap<String, String>);

/// One parsed row: its line, natural key and fields, plus caveats found while parsing.
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) key: String,
    pub(super) fields: Fields,
    pub(super) caveats: Vec<String>,
}

/// Reads a CSV file's rows as maps of column -> text, reporting unreadable rows as
/// skipped. Errors (the whole file): a missing column, or no header.
pub(super) fn read_csv(
    text: &str,
    required: &[&str],
    report: &mut FileReport,
) -> Result<Vec<RawRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header line: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    if let Some(missing) = required.iter().find(|c| !headers.iter().any(|h| h == *c)) {
        return Err(format!(
            "the header has no column \"{missing}\" (expected {})",
            required.join(", ")
        ));
    }
    let mut rows = Vec::new();
    for (i, result) in reader.records().enumerate() {
        report.rows += 1;
        match result {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
                let map = headers
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect();
                rows.push((line, map));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
                skip(report, line, String::new(), format!("unreadable row: {e}"));
            }
        }
    }
    Ok(rows)
}

pub(super) fn skip(report: &mut FileReport, line: u64, key: String, reason: String) {
    report.skipped += 1;
    report.problems.push(RowProblem {
        line,
        key,
        reason,
        skipped: true,
    });
}

/// Sets `field` of `kind` from raw text through the field's own validation; a bad value
/// is left empty and noted as a caveat. Returns false when a required field is missing
/// or bad (the row must be skipped, with the message noted).
pub(super) fn set(
    kind: RecordKind,
    fields: &mut Fields,
    field: &str,
    raw: &str,
    caveats: &mut Vec<String>,
) -> bool {
    let Some(def) = kind.field(field) else {
        return true;
    };
    match def.normalize(Value::Text(raw.to_string())) {
        Ok(v) => {
            fields.insert(field.to_string(), v);
            true
        }
        Err(message) => {
            fields.insert(field.to_string(), Value::Null);
            caveats.push(if raw.trim().is_empty() {
                message
            } else {
                format!("{message} (was \"{raw}\"); left empty")
            });
            !def.required
        }
    }
}
