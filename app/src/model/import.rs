//! The report an import produces: what happened to each file's rows, and every row that
//! needed attention, so nothing is dropped without being said.

use serde::{Deserialize, Serialize};

/// The whole result of one import run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ImportReport {
    /// Slug of the workspace imported into.
    pub workspace: String,
    /// Whether this run created the workspace.
    pub workspace_created: bool,
    /// One entry per file read, in the order they were imported.
    pub files: Vec<FileReport>,
    /// Invite links for imported people who have not joined yet: each person opens theirs
    /// to set an e-mail and password and take over their account.
    pub invites: Vec<InviteLink>,
    /// Wall time of the import, milliseconds.
    pub elapsed_ms: u64,
    /// Set when the import stopped early (the database failed): which file and why.
    /// Everything the report counts before that file was committed and stays.
    #[serde(default)]
    pub failed: Option<String>,
}

/// What happened to the rows of one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct FileReport {
    /// File name (`accounts.csv`).
    pub file: String,
    /// Data rows read (header excluded).
    pub rows: u64,
    /// Rows that created a record.
    pub created: u64,
    /// Rows that changed an existing record.
    pub updated: u64,
    /// Rows whose record already held the same data.
    pub unchanged: u64,
    /// Rows that could not be imported at all (each is listed in `problems`).
    pub skipped: u64,
    /// Rows imported with a caveat (each is listed in `problems`).
    pub flagged: u64,
    /// Every skipped or flagged row, with why.
    pub problems: Vec<RowProblem>,
    /// Set when the whole file was ignored or unreadable, with why.
    pub error: Option<String>,
}

/// A row that was skipped or imported with a caveat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The row's natural key (account name, opportunity id), for finding it.
    pub key: String,
    /// What was wrong and what the import did about it.
    pub reason: String,
    /// True when the row was not imported.
    pub skipped: bool,
}

/// An imported person's invite link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InviteLink {
    /// The person's name.
    pub name: String,
    /// The role they get.
    pub role: crate::model::Role,
    /// Path of the link (`/invite/{token}`), to append to the site's origin.
    pub path: String,
}

impl ImportReport {
    /// The report of the named file, if it was read.
    pub fn file(&self, name: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| f.file == name)
    }
}

/// One line of the upload route's streamed answer (`application/x-ndjson`): progress
/// lines, then one `report` or `error` line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadLine {
    /// A file's rows done of its rows read.
    Progress {
        /// The file (its name in the upload).
        file: String,
        /// Rows written so far.
        done: u64,
        /// Rows read from the file.
        total: u64,
    },
    /// The import finished: its report.
    Report(ImportReport),
    /// The import failed (the database): why, as the JSON error of any call.
    Error(crate::error::AppError),
}

/// One file of the CRM export the importer reads, and the columns it takes from it.
#[derive(Debug)]
pub struct ExportFile {
    /// Its name in a Maven export (`accounts.csv`), also the name it is known by here.
    pub name: &'static str,
    /// Its key in a [`ImportMapping`] and in a mapping file (`accounts`).
    pub stem: &'static str,
    /// The columns read, in the export's order.
    pub columns: &'static [ExportColumn],
}

/// A column the importer reads: its Maven name, whether a file without it is refused, and
/// the names other exports give it (for suggestions).
#[derive(Debug)]
pub struct ExportColumn {
    /// The Maven export's name for it (`account`), the name rows are read by.
    pub name: &'static str,
    /// What it holds, for people.
    pub caption: &'static str,
    /// Whether a file whose header lacks it (after mapping) is refused.
    pub required: bool,
    /// Other exports' names for it, most likely first (compared ignoring case, spaces and
    /// punctuation).
    pub synonyms: &'static [&'static str],
    /// The file (stem) whose records it names, for a reference: a value that is one of
    /// that file's ids (its `id` column) is read as the name that id stands for.
    pub refers_to: Option<&'static str>,
}

const fn col(
    name: &'static str,
    caption: &'static str,
    required: bool,
    synonyms: &'static [&'static str],
) -> ExportColumn {
    ExportColumn {
        name,
        caption,
        required,
        synonyms,
        refers_to: None,
    }
}

/// An optional column that names a record of the file `stem`, by name or by id.
const fn reference(
    name: &'static str,
    caption: &'static str,
    synonyms: &'static [&'static str],
    stem: &'static str,
) -> ExportColumn {
    ExportColumn {
        name,
        caption,
        required: false,
        synonyms,
        refers_to: Some(stem),
    }
}

impl ExportFile {
    /// The column that names a row's record (the first required one): `account` in
    /// accounts, `opportunity_id` in the pipeline.
    pub fn key(&self) -> &'static ExportColumn {
        self.columns
            .iter()
            .find(|c| c.required)
            .expect("every export file has a required key column")
    }

    /// The importer's file called `name`, by file name or stem.
    pub fn named(name: &str) -> Option<&'static ExportFile> {
        EXPORT_FILES
            .iter()
            .find(|f| f.name == name || f.stem == name)
    }
}

/// The export's files in the order they are imported (later files refer to earlier ones
/// by name, or by the `id` column a mapping gives the earlier file).
pub const EXPORT_FILES: [ExportFile; 4] = [
    ExportFile {
        name: "products.csv",
        stem: "products",
        columns: &[
            col(
                "id",
                "Product id (when other files refer to products by id)",
                false,
                &["product_id", "productid", "sku"],
            ),
            col(
                "product",
                "Product name",
                true,
                &["product_name", "name", "title"],
            ),
            col(
                "series",
                "Series",
                false,
                &["product_series", "family", "line", "category"],
            ),
            col(
                "sales_price",
                "Price",
                false,
                &["price", "list_price", "unit_price"],
            ),
        ],
    },
    ExportFile {
        name: "accounts.csv",
        stem: "accounts",
        columns: &[
            col(
                "id",
                "Account id (when other files refer to accounts by id)",
                false,
                &["account_id", "company_id", "customer_id"],
            ),
            col(
                "account",
                "Account (company) name",
                true,
                &[
                    "account_name",
                    "company",
                    "company_name",
                    "customer",
                    "customer_name",
                    "name",
                ],
            ),
            col("sector", "Sector", false, &["industry", "vertical"]),
            col(
                "year_established",
                "Year established",
                false,
                &["founded", "year_founded", "established"],
            ),
            col(
                "revenue",
                "Revenue (USD millions)",
                false,
                &["annual_revenue", "revenue_musd"],
            ),
            col(
                "employees",
                "Employees",
                false,
                &["employee_count", "headcount", "number_of_employees"],
            ),
            col(
                "office_location",
                "Office location",
                false,
                &["location", "country", "hq", "headquarters", "city"],
            ),
            reference(
                "subsidiary_of",
                "Parent account (name or id)",
                &[
                    "parent",
                    "parent_account",
                    "parent_company",
                    "parent_id",
                    "parent_account_id",
                ],
                "accounts",
            ),
        ],
    },
    ExportFile {
        name: "sales_teams.csv",
        stem: "sales_teams",
        columns: &[
            col(
                "id",
                "Agent id (when the pipeline refers to agents by id)",
                false,
                &["agent_id", "sales_agent_id", "user_id", "owner_id"],
            ),
            col(
                "sales_agent",
                "Sales agent name",
                true,
                &[
                    "agent",
                    "agent_name",
                    "owner",
                    "owner_name",
                    "rep",
                    "sales_rep",
                    "name",
                ],
            ),
            col(
                "manager",
                "Manager",
                false,
                &["manager_name", "team_lead", "supervisor"],
            ),
            col(
                "regional_office",
                "Regional office",
                false,
                &["region", "office", "territory"],
            ),
        ],
    },
    ExportFile {
        name: "sales_pipeline.csv",
        stem: "sales_pipeline",
        columns: &[
            col(
                "opportunity_id",
                "Opportunity id",
                true,
                &["deal_id", "deal", "opportunity", "id", "code"],
            ),
            reference(
                "sales_agent",
                "Sales agent (name or id)",
                &[
                    "agent",
                    "agent_id",
                    "owner",
                    "owner_id",
                    "sales_agent_id",
                    "rep",
                ],
                "sales_teams",
            ),
            reference(
                "product",
                "Product (name or id)",
                &["product_id", "product_name", "sku"],
                "products",
            ),
            reference(
                "account",
                "Account (name or id)",
                &[
                    "account_id",
                    "account_name",
                    "company",
                    "company_id",
                    "customer",
                    "customer_id",
                ],
                "accounts",
            ),
            col(
                "deal_stage",
                "Stage",
                true,
                &["stage", "status", "opportunity_stage"],
            ),
            col(
                "engage_date",
                "Engage date",
                false,
                &["created", "created_date", "open_date", "start_date"],
            ),
            col(
                "close_date",
                "Close date",
                false,
                &["closed", "closed_date", "close"],
            ),
            col(
                "close_value",
                "Value (USD)",
                false,
                &["value", "amount", "deal_value"],
            ),
        ],
    },
];

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
    let lower = name.to_lowercase();
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
        .flat_map(char::to_lowercase)
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
