//! How someone's export maps onto the importer's files and columns: the saved mapping,
//! the preview of a file, and the suggestions made from its headers.

use serde::{Deserialize, Serialize};

use super::{ExportColumn, ExportFile, EXPORT_FILES};

/// Which file and columns of someone's export stand for each file and column the
/// importer reads; anything not mapped is looked for under its Maven name. Saved per
/// workspace, and read by `tandem import --mapping <file.toml>`:
///
/// ```toml
/// [accounts]
/// file = "companies.csv"
/// columns = { account = "company_name", id = "company_id" }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportMapping {
    /// By file stem (`accounts`).
    #[serde(flatten)]
    pub files: std::collections::BTreeMap<String, FileMapping>,
}

/// How one of the importer's files appears in someone's export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FileMapping {
    /// The export's file name, when it differs (`companies.csv`).
    #[serde(default)]
    pub file: Option<String>,
    /// The importer's column name -> the export's column name.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
}

impl ImportMapping {
    /// The export's file name for one of the importer's files.
    pub fn file_name<'a>(&'a self, file: &'a ExportFile) -> &'a str {
        self.files
            .get(file.stem)
            .and_then(|f| f.file.as_deref())
            .unwrap_or(file.name)
    }

    /// Checks that it names only files and columns the importer reads.
    ///
    /// Errors: a message naming the unknown file or column and what is expected.
    pub fn check(&self) -> Result<(), String> {
        for (stem, file) in &self.files {
            let Some(known) = ExportFile::named(stem) else {
                let stems: Vec<&str> = EXPORT_FILES.iter().map(|f| f.stem).collect();
                return Err(format!(
                    "no file \"{stem}\" is imported (expected one of {})",
                    stems.join(", ")
                ));
            };
            if let Some(column) = file
                .columns
                .keys()
                .find(|c| !known.columns.iter().any(|k| k.name == c.as_str()))
            {
                let names: Vec<&str> = known.columns.iter().map(|c| c.name).collect();
                return Err(format!(
                    "{stem} has no column \"{column}\" to map (its columns are {})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The export's column name for one of the importer's columns of `file`.
    pub fn column<'a>(&'a self, file: &ExportFile, column: &'a ExportColumn) -> &'a str {
        self.files
            .get(file.stem)
            .and_then(|f| f.columns.get(column.name))
            .map(String::as_str)
            .unwrap_or(column.name)
    }
}

/// The first lines of a CSV file for a preview: its header and up to `rows` rows
/// (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks). Reads only
/// as far as it needs.
pub fn preview_csv(text: &str, rows: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let text = text.trim_start_matches('\u{feff}');
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field).trim().to_string()),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field).trim().to_string());
                records.push(std::mem::take(&mut record));
                if records.len() > rows {
                    break;
                }
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field.trim().to_string());
        records.push(record);
    }
    records.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    let mut records = records.into_iter();
    let header = records.next().unwrap_or_default();
    (header, records.take(rows).collect())
}

/// Which of the importer's files an export's file most likely is: by its name (Maven's
/// own, or the stem in it), else the file whose columns its header suggests most of.
pub fn guess_file(name: &str, headers: &[String]) -> Option<&'static ExportFile> {
    let lower = name.to_ascii_lowercase();
    if let Some(f) = EXPORT_FILES
        .iter()
        .find(|f| lower == f.name || loose(&lower).contains(&loose(f.stem)))
    {
        return Some(f);
    }
    EXPORT_FILES
        .iter()
        .map(|f| {
            let exact = f
                .columns
                .iter()
                .filter(|c| headers.iter().any(|h| loose(h) == loose(c.name)))
                .count();
            let key = headers.iter().any(|h| {
                let key = f.key();
                loose(h) == loose(key.name) || key.synonyms.iter().any(|s| loose(h) == loose(s))
            });
            (
                f,
                exact + suggest_columns(f, headers).len() + if key { 10 } else { 0 },
            )
        })
        .filter(|(_, score)| *score >= 10)
        .max_by_key(|(_, score)| *score)
        .map(|(f, _)| f)
}

/// A name reduced for comparing column names: letters and digits, lower-case
/// (`Account Name` and `account_name` are both `accountname`).
fn loose(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Suggested columns of `headers` for each of the file's columns: the header with the
/// column's own name, else the first of its synonyms that the header has. Each header is
/// suggested at most once. Returns importer column -> header, only where a header differs
/// from the column's name (what a mapping needs to say).
pub fn suggest_columns(
    file: &ExportFile,
    headers: &[String],
) -> std::collections::BTreeMap<String, String> {
    let mut taken = vec![false; headers.len()];
    let mut found: Vec<Option<usize>> = vec![None; file.columns.len()];
    // Exact names first, so a synonym never takes a header that is another column's own.
    for (c, column) in file.columns.iter().enumerate() {
        let want = loose(column.name);
        if let Some(h) = (0..headers.len()).find(|h| !taken[*h] && loose(&headers[*h]) == want) {
            taken[h] = true;
            found[c] = Some(h);
        }
    }
    for (c, column) in file.columns.iter().enumerate() {
        if found[c].is_some() {
            continue;
        }
        for synonym in column.synonyms {
            let want = loose(synonym);
            if let Some(h) = (0..headers.len()).find(|h| !taken[*h] && loose(&headers[*h]) == want)
            {
                taken[h] = true;
                found[c] = Some(h);
                break;
            }
        }
    }
    file.columns
        .iter()
        .zip(found)
        .filter_map(|(column, h)| {
            let header = &headers[h?];
            (header.as_str() != column.name).then(|| (column.name.to_string(), header.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_suggested_from_names_and_synonyms_once_each() {
        let accounts = &EXPORT_FILES[1];
        let headers: Vec<String> = ["Company ID", "Company Name", "Industry", "Revenue", "HQ"]
            .map(String::from)
            .to_vec();
        let s = suggest_columns(accounts, &headers);
        assert_eq!(s.get("id").map(String::as_str), Some("Company ID"));
        assert_eq!(s.get("account").map(String::as_str), Some("Company Name"));
        assert_eq!(s.get("sector").map(String::as_str), Some("Industry"));
        assert_eq!(s.get("revenue").map(String::as_str), Some("Revenue"));
        assert_eq!(s.get("office_location").map(String::as_str), Some("HQ"));
        assert_eq!(s.get("employees"), None);
        // Maven's own header needs no mapping at all.
        let maven: Vec<String> = accounts
            .columns
            .iter()
            .skip(1)
            .map(|c| c.name.to_string())
            .collect();
        assert!(suggest_columns(accounts, &maven).is_empty());
    }

    #[test]
    fn a_preview_reads_quoted_fields_and_stops_early() {
        let text = "\u{feff}name,notes\r\n\"Acme, Inc.\",\"said \"\"hi\"\"\nthen left\"\r\nBeta,\nGamma,x\n";
        let (header, rows) = preview_csv(text, 2);
        assert_eq!(header, ["name", "notes"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], ["Acme, Inc.", "said \"hi\"\nthen left"]);
        assert_eq!(rows[1], ["Beta", ""]);
        assert_eq!(
            preview_csv("", 5),
            (Vec::<String>::new(), Vec::<Vec<String>>::new())
        );
    }

    #[test]
    fn a_file_is_recognised_by_name_or_by_its_columns() {
        assert_eq!(
            guess_file("accounts.csv", &[]).map(|f| f.stem),
            Some("accounts")
        );
        assert_eq!(
            guess_file("Sales_Pipeline-2024.csv", &[]).map(|f| f.stem),
            Some("sales_pipeline")
        );
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let companies = h(&["Company ID", "Company Name", "Industry"]);
        assert_eq!(
            guess_file("companies.csv", &companies).map(|f| f.stem),
            Some("accounts")
        );
        let deals = h(&["Deal", "Stage", "Opportunity ID", "Amount"]);
        assert_eq!(
            guess_file("opps.csv", &deals).map(|f| f.stem),
            Some("sales_pipeline")
        );
        assert!(guess_file("notes.csv", &h(&["when", "what"])).is_none());
    }

    #[test]
    fn a_mapping_is_checked_against_the_importers_columns() {
        let mut m = ImportMapping::default();
        m.files
            .entry("accounts".into())
            .or_default()
            .columns
            .insert("website".into(), "URL".into());
        assert!(m
            .check()
            .unwrap_err()
            .contains("accounts has no column \"website\""));
        let mut m = ImportMapping::default();
        m.files.insert("leads".into(), FileMapping::default());
        assert!(m.check().unwrap_err().contains("no file \"leads\""));
        assert_eq!(ImportMapping::default().check(), Ok(()));
    }

    #[test]
    fn a_mapping_reads_from_toml_shape_and_falls_back_to_maven_names() {
        let m: ImportMapping = serde_json::from_str(
            r#"{"accounts": {"file": "companies.csv", "columns": {"account": "company_name"}}}"#,
        )
        .unwrap();
        let accounts = &EXPORT_FILES[1];
        assert_eq!(m.file_name(accounts), "companies.csv");
        assert_eq!(m.column(accounts, &accounts.columns[1]), "company_name");
        assert_eq!(m.column(accounts, &accounts.columns[2]), "sector");
        assert_eq!(m.file_name(&EXPORT_FILES[0]), "products.csv");
    }
}
