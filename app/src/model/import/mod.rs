//! What an import shares between the server, the CLI and the page: the report it produces
//! (what happened to each file's rows, and every row that needed attention, so nothing
//! is dropped without being said), the files and columns of the export it reads
//! ([`export`]) and how someone's export maps onto them ([`mapping`]).

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

mod export;
mod mapping;

pub use export::{ExportColumn, ExportFile, EXPORT_FILES};
pub use mapping::{guess_file, preview_csv, suggest_columns, FileMapping, ImportMapping};
