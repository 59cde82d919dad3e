//! Import of the Maven CRM export (`accounts.csv`, `products.csv`, `sales_teams.csv`,
//! `sales_pipeline.csv`) into a workspace, used by `tandem import` and the upload page.
//!
//! Every row ends up created, updated, unchanged or skipped, and any row with a caveat
//! (a misspelt sector, a deal with no account, a product name read as another) is listed
//! with its reason: nothing is dropped or invented silently. Records are matched by
//! natural key (account name, product name, opportunity id), people by the import's own
//! key (the agent's name in the export, kept on the membership, never a display name
//! someone chose), so a second run of the same files changes nothing. A row with a bad
//! key, a key seen earlier in the file, or the key of a record deleted here is skipped
//! and reported; a failing database stops the import with a report of what was done.

pub mod http;

mod matching;
mod maven;
mod reading;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use app::model::import::{
    ExportFile, FileReport, ImportMapping, ImportReport, InviteLink, RowProblem, EXPORT_FILES,
};
use app::model::{now_ms, Fields, RecordKind, Role, Value, Workspace};
use app::ssr::store::{DbError, ImportedPerson, NewInvite, Progress, Store, Upserted};

use matching::*;
use maven::*;
use reading::*;

/// Told, as an import goes, a file's name, its rows done and its rows read.
pub type ImportProgress = dyn Fn(&str, u64, u64) + Send + Sync;

/// Files that belong to the export but hold nothing to import.
const IGNORED: [&str; 1] = ["data_dictionary.csv"];

/// How long the invite links of imported people stay valid, days.
const INVITE_DAYS: i64 = 30;

/// Why an import stopped before finishing (a row problem never stops it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The store failed; what was written before stays (each file is one transaction).
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A row after writing: where it came from, its caveats and what the write did.
struct Written {
    line: u64,
    key: String,
    caveats: Vec<String>,
    outcome: Upserted,
}

/// Writes parsed rows of one kind (one transaction) and pairs each with its outcome,
/// telling `progress` the rows written as it goes.
async fn write_rows(
    store: &dyn Store,
    workspace: i64,
    actor: Option<i64>,
    kind: RecordKind,
    rows: Vec<Row>,
    progress: Progress<'_>,
) -> Result<Vec<Written>, ImportError> {
    let meta: Vec<(u64, String, Vec<String>)> = rows
        .iter()
        .map(|r| (r.line, r.key.clone(), r.caveats.clone()))
        .collect();
    let outcomes = store
        .upsert_records(
            workspace,
            actor,
            kind,
            rows.into_iter().map(|r| r.fields).collect(),
            progress,
        )
        .await?;
    Ok(meta
        .into_iter()
        .zip(outcomes)
        .map(|((line, key, caveats), (_, outcome))| Written {
            line,
            key,
            caveats,
            outcome,
        })
        .collect())
}

/// Counts written rows into the file's report and lists every row with a caveat.
fn tally(report: &mut FileReport, written: Vec<Written>) {
    for w in written {
        if let Upserted::Deleted = w.outcome {
            skip(
                report,
                w.line,
                w.key,
                "a record with this key was deleted here; not restored".into(),
            );
            continue;
        }
        count(report, w.outcome);
        if !w.caveats.is_empty() {
            report.flagged += 1;
            report.problems.push(RowProblem {
                line: w.line,
                key: w.key,
                reason: w.caveats.join("; "),
                skipped: false,
            });
        }
    }
}

fn count(report: &mut FileReport, outcome: Upserted) {
    match outcome {
        Upserted::Created => report.created += 1,
        Upserted::Updated => report.updated += 1,
        Upserted::Unchanged => report.unchanged += 1,
        Upserted::Deleted => report.skipped += 1,
    }
}

/// Skips (and reports) every row whose key an earlier row of the file had: which of two
/// rows is right cannot be known, and applying both would make re-imports flip-flop.
fn drop_duplicates(rows: Vec<Row>, report: &mut FileReport) -> Vec<Row> {
    let mut first: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match first.get(&row.key) {
            Some(line) => skip(
                report,
                row.line,
                row.key,
                format!("the same key as line {line}; skipped"),
            ),
            None => {
                first.insert(row.key.clone(), row.line);
                out.push(row);
            }
        }
    }
    out
}

/// Imports the given files (file name -> contents) into `ws`, acting as `actor`, reading
/// each file and column under the name `mapping` gives it (else its Maven name).
/// Files may be any subset of the export's; names in later files are resolved against
/// what the workspace already holds. Unknown files are reported and ignored; a file whose
/// columns do not fit is refused with the column named (its report's `error`).
///
/// `progress` is told, as each file goes, its name, the rows done and the rows read.
///
/// Errors: only a failing store; problems with files or rows go into the report.
pub async fn import_files(
    store: &dyn Store,
    ws: &Workspace,
    actor: Option<i64>,
    files: &BTreeMap<String, String>,
    mapping: &ImportMapping,
    progress: &ImportProgress,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut report = ImportReport {
        workspace: ws.slug.clone(),
        ..ImportReport::default()
    };
    let expected: Vec<&str> = EXPORT_FILES.iter().map(|f| mapping.file_name(f)).collect();
    for name in files
        .keys()
        .filter(|n| !expected.contains(&n.as_str()) && !IGNORED.contains(&n.as_str()))
    {
        report.files.push(FileReport {
            file: name.clone(),
            error: Some(format!(
                "not part of the CRM export (expected {}); ignored",
                expected.join(", ")
            )),
            ..FileReport::default()
        });
    }
    let mut ids = HashMap::new();
    let mut imported_people: Vec<ImportedPerson> = Vec::new();
    for file in &EXPORT_FILES {
        let name = mapping.file_name(file);
        let Some(text) = files.get(name) else {
            continue;
        };
        let mut fr = FileReport {
            file: name.to_string(),
            ..FileReport::default()
        };
        let mut rows = match read_csv(text, file, mapping, &mut fr) {
            Ok(rows) => rows,
            Err(e) => {
                fr.error = Some(e);
                report.files.push(fr);
                continue;
            }
        };
        names_for_ids(file, &mut rows, &mut ids);
        let total = fr.rows;
        progress(name, 0, total);
        let rows_done = |done: u64| progress(name, done, total);
        match import_file(store, ws, actor, file, rows, &mut fr, &rows_done).await {
            Ok(Some(people)) => imported_people = people,
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, file = name, "an import stopped");
                let why = "the database failed while importing this file (the server's log \
                           says why); the rows counted before it were imported and stay";
                fr.error = Some(why.into());
                report.failed = Some(format!("{name}: {why}"));
                fr.problems.sort_by_key(|p| p.line);
                report.files.push(fr);
                break;
            }
        }
        progress(name, total, total);
        fr.problems.sort_by_key(|p| p.line);
        report.files.push(fr);
    }
    if report.failed.is_none() {
        report.invites = invite_links(store, ws, actor, &imported_people).await?;
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Reads and checks one export file as [`import_files`] would, up to the database: its
/// header, every row, every value through its field's rules, and duplicates, with names
/// resolved against an empty workspace (a deal's account is then reported as not
/// found). The sales team's people are checked as rows only (matching them to members
/// needs the workspace). `stem` is the file's (`products`, `accounts`, `sales_teams`,
/// `sales_pipeline`); `None` for any other. Returns the file's report and the rows that
/// would be written: with the report's `skipped`, every row read. No input may make it
/// panic: the fuzzer (`fuzz/fuzz_targets/csv_import.rs`) calls it with arbitrary text.
pub fn check_file(stem: &str, text: &str) -> Option<(FileReport, u64)> {
    let file = EXPORT_FILES.iter().find(|f| f.stem == stem)?;
    let mut fr = FileReport {
        file: file.name.to_string(),
        ..FileReport::default()
    };
    let mut rows = match read_csv(text, file, &ImportMapping::default(), &mut fr) {
        Ok(rows) => rows,
        Err(e) => {
            fr.error = Some(e);
            return Some((fr, 0));
        }
    };
    names_for_ids(file, &mut rows, &mut HashMap::new());
    let none = HashMap::new();
    let kept = match file.stem {
        "products" => drop_duplicates(products(rows, &mut fr), &mut fr).len(),
        "accounts" => {
            let parsed = drop_duplicates(accounts(&rows, &mut fr), &mut fr);
            let kept: HashSet<u64> = parsed.iter().map(|r| r.line).collect();
            account_parents(&rows, &kept, &none);
            parsed.len()
        }
        "sales_teams" => rows.len(),
        _ => drop_duplicates(deals(rows, &none, &none, &none, &mut fr), &mut fr).len(),
    };
    fr.problems.sort_by_key(|p| p.line);
    Some((fr, kept as u64))
}

/// Imports one file's rows, telling `progress` the rows written; for the sales team,
/// returns the people imported.
async fn import_file(
    store: &dyn Store,
    ws: &Workspace,
    actor: Option<i64>,
    file: &ExportFile,
    rows: Vec<RawRow>,
    fr: &mut FileReport,
    progress: Progress<'_>,
) -> Result<Option<Vec<ImportedPerson>>, ImportError> {
    match file.stem {
        "products" => {
            let rows = drop_duplicates(products(rows, fr), fr);
            tally(
                fr,
                write_rows(store, ws.id, actor, RecordKind::Product, rows, progress).await?,
            );
        }
        "accounts" => {
            let parsed = drop_duplicates(accounts(&rows, fr), fr);
            let kept: HashSet<u64> = parsed.iter().map(|r| r.line).collect();
            let first =
                write_rows(store, ws.id, actor, RecordKind::Customer, parsed, progress).await?;
            // The first pass is committed: if the second fails, the report still counts it.
            let second = async {
                let customers = store.ids_by_key(ws.id, RecordKind::Customer).await?;
                let links = account_parents(&rows, &kept, &customers);
                write_rows(store, ws.id, actor, RecordKind::Customer, links, &|_| {}).await
            };
            let second = match second.await {
                Ok(s) => s,
                Err(e) => {
                    tally(fr, first);
                    return Err(e);
                }
            };
            // A row counts once: its strongest outcome and all caveats of both passes.
            let mut linked: HashMap<String, Written> =
                second.into_iter().map(|w| (w.key.clone(), w)).collect();
            let merged = first
                .into_iter()
                .map(|mut w| {
                    if let Some(l) = linked.remove(&w.key) {
                        w.outcome = w.outcome.min(l.outcome);
                        w.caveats.extend(l.caveats);
                    }
                    w
                })
                .collect();
            tally(fr, merged);
        }
        "sales_teams" => return Ok(Some(sales_teams(store, ws, actor, rows, fr).await?)),
        _ => {
            let customers = store.ids_by_key(ws.id, RecordKind::Customer).await?;
            let products_by_name = store.ids_by_key(ws.id, RecordKind::Product).await?;
            let people = store.import_keys(ws.id).await?;
            let rows = deals(rows, &customers, &products_by_name, &people, fr);
            let rows = drop_duplicates(rows, fr);
            tally(
                fr,
                write_rows(store, ws.id, actor, RecordKind::Deal, rows, progress).await?,
            );
        }
    }
    Ok(None)
}

/// Invite links for imported people who have not joined yet: their live claim link, or a
/// new one (valid [`INVITE_DAYS`] days, one use).
async fn invite_links(
    store: &dyn Store,
    ws: &Workspace,
    actor: Option<i64>,
    people: &[ImportedPerson],
) -> Result<Vec<InviteLink>, ImportError> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let members: HashMap<i64, app::model::Member> = store
        .members(ws.id)
        .await?
        .into_iter()
        .map(|m| (m.user.id, m))
        .collect();
    let keys = store.import_keys(ws.id).await?;
    let invites = store.invites(ws.id).await?;
    let mut links = Vec::new();
    for ImportedPerson { key, .. } in people {
        let Some(m) = keys
            .get(key)
            .and_then(|id| members.get(id))
            .filter(|m| !m.joined)
        else {
            continue;
        };
        let name = &m.user.display_name;
        let live = invites
            .iter()
            .find(|i| i.for_user == Some(m.user.id) && i.is_live(now));
        let invite = match live {
            Some(i) => i.clone(),
            None => {
                store
                    .create_invite(NewInvite {
                        workspace_id: ws.id,
                        token: app::ssr::auth::random_token(),
                        role: m.role.min(Role::Admin),
                        expires_at: now + INVITE_DAYS * 86_400_000,
                        max_uses: 1,
                        created_by: actor,
                        for_user: Some(m.user.id),
                    })
                    .await?
            }
        };
        links.push(InviteLink {
            name: name.clone(),
            role: m.role,
            path: invite.path(),
        });
    }
    Ok(links)
}

/// Reads the export's files from a folder: those of [`EXPORT_FILES`] that exist, under
/// the names `mapping` gives them.
///
/// Errors: the folder holds none of them, or a file is not UTF-8 text.
pub fn read_folder(
    folder: &std::path::Path,
    mapping: &ImportMapping,
) -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let names: Vec<&str> = EXPORT_FILES.iter().map(|f| mapping.file_name(f)).collect();
    for name in &names {
        let path = folder.join(name);
        if path.exists() {
            files.insert(name.to_string(), std::fs::read_to_string(&path)?);
        }
    }
    if files.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} holds none of {}", folder.display(), names.join(", ")),
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sector_two_letters_off_is_a_misspelling() {
        assert_eq!(misspelt_sector("technolgy"), Some("technology"));
        assert_eq!(misspelt_sector("technology"), None);
        assert_eq!(misspelt_sector("retail"), None);
        assert_eq!(misspelt_sector("aerospace"), None);
    }

    #[test]
    fn loose_names_match_despite_spaces_and_case() {
        let names = HashMap::from([("GTX Pro".to_string(), 7)]);
        let mut caveats = Vec::new();
        assert_eq!(resolve(&names, "product", "GTXPro", &mut caveats), Some(7));
        assert_eq!(
            caveats,
            vec!["product \"GTXPro\" read as \"GTX Pro\"".to_string()]
        );
        assert_eq!(resolve(&names, "product", "MG Pro", &mut caveats), None);
        assert_eq!(caveats.len(), 2);
    }

    #[test]
    fn a_row_with_too_few_columns_is_skipped_and_reported() {
        let products = ExportFile::named("products").expect("declared");
        let none = ImportMapping::default();
        let mut report = FileReport::default();
        let rows = read_csv(
            "product,series\nA,x\nB\nC,y\n",
            products,
            &none,
            &mut report,
        )
        .expect("header ok");
        assert_eq!(rows.len(), 2);
        assert_eq!(report.rows, 3);
        assert_eq!(report.skipped, 1);
        assert_eq!(report.problems[0].line, 3);
        // Columns the export lacks read as empty.
        assert_eq!(rows[1].1["sales_price"], "");
        assert!(read_csv("series\nx\n", products, &none, &mut report)
            .unwrap_err()
            .contains("no column \"product\""));
    }

    #[test]
    fn a_mapping_renames_columns_and_ids_stand_for_names() {
        let products = ExportFile::named("products").expect("declared");
        let pipeline = ExportFile::named("sales_pipeline").expect("declared");
        let mut mapping = ImportMapping::default();
        mapping.files.entry("products".into()).or_default().columns = BTreeMap::from([
            ("product".into(), "Name".into()),
            ("id".into(), "SKU".into()),
        ]);
        mapping
            .files
            .entry("sales_pipeline".into())
            .or_default()
            .columns = BTreeMap::from([
            ("opportunity_id".into(), "Deal".into()),
            ("deal_stage".into(), "Stage".into()),
            ("product".into(), "SKU".into()),
        ]);
        let mut report = FileReport::default();
        let mut ids = HashMap::new();
        let mut rows =
            read_csv("SKU,Name\np-1,GTX Pro\n", products, &mapping, &mut report).expect("mapped");
        names_for_ids(products, &mut rows, &mut ids);
        assert_eq!(rows[0].1["product"], "GTX Pro");
        let mut deals = read_csv(
            "Deal,Stage,SKU\nD1,Won,p-1\nD2,Lost,GTX Basic\n",
            pipeline,
            &mapping,
            &mut report,
        )
        .expect("mapped");
        names_for_ids(pipeline, &mut deals, &mut ids);
        assert_eq!(deals[0].1["product"], "GTX Pro");
        assert_eq!(deals[1].1["product"], "GTX Basic");
        // A mapped column the file lacks is named in the refusal.
        let err = read_csv("Deal,SKU\nD1,p-1\n", pipeline, &mapping, &mut report).unwrap_err();
        assert!(
            err.contains("\"Stage\", which the mapping names for \"deal_stage\""),
            "{err}"
        );
    }
}
