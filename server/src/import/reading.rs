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

/// Reads a CSV file's rows as maps of the importer's column name -> text (every column
/// of `file`, empty where the export has none), reporting unreadable rows as skipped. The
/// export's header names come from `mapping`, else they are the importer's own
/// (compared ignoring case).
///
/// Errors (the whole file is refused, naming the column): no header, a required column
/// missing, or a column the mapping names missing.
pub(super) fn read_csv(
    text: &str,
    file: &ExportFile,
    mapping: &ImportMapping,
    report: &mut FileReport,
) -> Result<Vec<RawRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header line: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut index: Vec<(&'static str, Option<usize>)> = Vec::with_capacity(file.columns.len());
    for column in file.columns {
        let wanted = mapping.column(file, column).trim();
        let mapped = wanted != column.name;
        let position = headers.iter().position(|h| h.eq_ignore_ascii_case(wanted));
        match position {
            None if mapped => {
                return Err(format!(
                    "the header has no column \"{wanted}\", which the mapping names for \"{}\"",
                    column.name
                ))
            }
            None if column.required => {
                return Err(format!(
                    "the header has no column \"{}\" ({}); map one of its columns ({}) to it",
                    column.name,
                    column.caption,
                    headers.join(", ")
                ))
            }
            _ => index.push((column.name, position)),
        }
    }
    let mut rows = Vec::new();
    for (i, result) in reader.records().enumerate() {
        report.rows += 1;
        match result {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(i as u64 + 2);
                let map = index
                    .iter()
                    .map(|(name, at)| {
                        let value = at.and_then(|a| rec.get(a)).unwrap_or_default();
                        (name.to_string(), value.to_string())
                    })
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

/// Reads, in place, each reference column's values that are ids of an earlier file's
/// records (that file's `id` column) as the names they stand for; `ids` holds, by file
/// stem, id -> name for the files read so far, and gets this file's own.
pub(super) fn names_for_ids(
    file: &ExportFile,
    rows: &mut [RawRow],
    ids: &mut HashMap<&'static str, HashMap<String, String>>,
) {
    let key = file.key().name;
    if file.columns.iter().any(|c| c.name == "id") {
        let own: HashMap<String, String> = rows
            .iter()
            .filter(|(_, r)| !r["id"].is_empty() && !r[key].is_empty())
            .map(|(_, r)| (r["id"].clone(), r[key].clone()))
            .collect();
        if !own.is_empty() {
            ids.insert(file.stem, own);
        }
    }
    for column in file.columns {
        let Some(names) = column.refers_to.and_then(|stem| ids.get(stem)) else {
            continue;
        };
        for (_, row) in rows.iter_mut() {
            if let Some(value) = row.get_mut(column.name) {
                if let Some(name) = names.get(value.as_str()) {
                    *value = name.clone();
                }
            }
        }
    }
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

/// Builds one record's fields from a CSV row: each field is set from a column's text
/// through the field's own validation. A bad value is left empty with a caveat; a field
/// the row cannot do without (required by the kind, or by the import, like a deal's id)
/// refuses the row, and [`RowBuilder::finish`] says why.
pub(super) struct RowBuilder<'a> {
    kind: RecordKind,
    raw: &'a HashMap<String, String>,
    fields: Fields,
    caveats: Vec<String>,
    refused: Vec<String>,
}

impl<'a> RowBuilder<'a> {
    /// A builder of a `kind` record from the row `raw` (column -> text).
    pub(super) fn new(kind: RecordKind, raw: &'a HashMap<String, String>) -> Self {
        RowBuilder {
            kind,
            raw,
            fields: Fields::new(),
            caveats: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// The row's text in `column` ("" if the file has no such column).
    pub(super) fn text(&self, column: &str) -> &'a str {
        self.raw.get(column).map(String::as_str).unwrap_or("")
    }

    /// Sets `field` from the text in `column`; a bad value is left empty with a caveat,
    /// and refuses the row if the kind requires the field.
    pub(super) fn set(&mut self, field: &str, column: &str) -> &mut Self {
        let text = self.text(column);
        self.put(field, text, false)
    }

    /// Sets `field` from the text in `column`, refusing the row when it is empty or bad.
    pub(super) fn require(&mut self, field: &str, column: &str) -> &mut Self {
        let text = self.text(column);
        self.put(field, text, true)
    }

    /// Sets `field` to an already-resolved value (a reference's id, or empty).
    pub(super) fn value(&mut self, field: &str, value: Value) -> &mut Self {
        self.fields.insert(field.to_string(), value);
        self
    }

    /// Notes a caveat about the row.
    pub(super) fn caveat(&mut self, caveat: String) -> &mut Self {
        self.caveats.push(caveat);
        self
    }

    /// The caveats noted so far, for resolving references with their own notes.
    pub(super) fn caveats(&mut self) -> &mut Vec<String> {
        &mut self.caveats
    }

    /// A field's value as set so far.
    pub(super) fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    fn put(&mut self, field: &str, raw: &str, needed: bool) -> &mut Self {
        let Some(def) = self.kind.field(field) else {
            return self;
        };
        match def.normalize(Value::Text(raw.to_string())) {
            Ok(Value::Null) if needed => self.refused.push(format!("{} is required", def.caption)),
            Ok(v) => {
                self.fields.insert(field.to_string(), v);
            }
            Err(message) => {
                self.fields.insert(field.to_string(), Value::Null);
                let note = if raw.trim().is_empty() {
                    message
                } else {
                    format!("{message} (was \"{raw}\"); left empty")
                };
                if needed || def.required {
                    self.refused.push(note);
                } else {
                    self.caveats.push(note);
                }
            }
        }
        self
    }

    /// The row, keyed by `key`; or, when a field it cannot do without was missing or
    /// bad, why it is skipped.
    pub(super) fn finish(self, line: u64, key: String) -> Result<Row, (String, String)> {
        if !self.refused.is_empty() {
            return Err((key, self.refused.join("; ")));
        }
        Ok(Row {
            line,
            key,
            fields: self.fields,
            caveats: self.caveats,
        })
    }
}
