//! Importing another CRM's export through a column mapping: the Maven export rewritten
//! with other file names, other column names and ids instead of names for references
//! imports to exactly what the Maven files give; a file whose required column stays
//! unmapped is refused with the column named, and the command line then fails.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use app::model::import::ImportReport;
use app::model::{RecordKind, RecordQuery};

use crate::common::{spawn_app, TestApp};
use crate::import::crm_folder;

/// The mapping file for the export [`rewrite`] writes.
const MAPPING: &str = r#"
[products]
file = "catalog.csv"
columns = { id = "SKU", product = "Product Name", series = "Family", sales_price = "List Price" }

[accounts]
file = "companies.csv"
columns = { id = "Company ID", account = "Company Name", sector = "Industry", year_established = "Founded", revenue = "Annual Revenue", employees = "Headcount", office_location = "HQ", subsidiary_of = "Parent Company ID" }

[sales_teams]
file = "reps.csv"
columns = { id = "Rep ID", sales_agent = "Rep", manager = "Team Lead", regional_office = "Region" }

[sales_pipeline]
file = "opportunities.csv"
columns = { opportunity_id = "Deal", sales_agent = "Rep ID", product = "SKU", account = "Company ID", deal_stage = "Stage", engage_date = "Created", close_date = "Closed", close_value = "Amount" }
"#;

/// Reads a Maven file as a header and rows.
fn read(folder: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(folder.join(name)).expect("a Maven file");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Writes `rows` under `header` to `folder/name`.
fn write(folder: &Path, name: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(folder.join(name)).expect("create");
    w.write_record(header).expect("header");
    for row in rows {
        w.write_record(row).expect("row");
    }
    w.flush().expect("flush");
}

/// Writes the Maven export into `out` as another CRM would export it: other file and
/// column names, columns in another order, and every reference to a product, account or
/// agent by an id (`P1`, `C1`, `R1`) instead of its name. Names the Maven files do not
/// know (a misspelt product, a missing account) stay names.
fn rewrite(maven: &Path, out: &Path) {
    let ids = |rows: &[Vec<String>], column: usize, prefix: &str| -> HashMap<String, String> {
        rows.iter()
            .enumerate()
            .map(|(i, r)| (r[column].clone(), format!("{prefix}{}", i + 1)))
            .collect()
    };
    let id_of = |ids: &HashMap<String, String>, name: &str| {
        ids.get(name).cloned().unwrap_or_else(|| name.to_string())
    };

    let (_, products) = read(maven, "products.csv");
    let product_ids = ids(&products, 0, "P");
    let rows: Vec<Vec<String>> = products
        .iter()
        .map(|r| {
            vec![
                r[2].clone(),
                r[1].clone(),
                r[0].clone(),
                id_of(&product_ids, &r[0]),
            ]
        })
        .collect();
    write(
        out,
        "catalog.csv",
        &["List Price", "Family", "Product Name", "SKU"],
        &rows,
    );

    let (_, accounts) = read(maven, "accounts.csv");
    let account_ids = ids(&accounts, 0, "C");
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|r| {
            let parent = if r[6].is_empty() {
                String::new()
            } else {
                id_of(&account_ids, &r[6])
            };
            let mut row = vec![id_of(&account_ids, &r[0])];
            row.extend(r[..6].iter().cloned());
            row.push(parent);
            row
        })
        .collect();
    let header = [
        "Company ID",
        "Company Name",
        "Industry",
        "Founded",
        "Annual Revenue",
        "Headcount",
        "HQ",
        "Parent Company ID",
    ];
    write(out, "companies.csv", &header, &rows);

    let (_, team) = read(maven, "sales_teams.csv");
    let agent_ids = ids(&team, 0, "R");
    let rows: Vec<Vec<String>> = team
        .iter()
        .map(|r| {
            vec![
                id_of(&agent_ids, &r[0]),
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
            ]
        })
        .collect();
    write(
        out,
        "reps.csv",
        &["Rep ID", "Rep", "Team Lead", "Region"],
        &rows,
    );

    let (_, deals) = read(maven, "sales_pipeline.csv");
    let rows: Vec<Vec<String>> = deals
        .iter()
        .map(|r| {
            vec![
                r[0].clone(),
                r[4].clone(),
                id_of(&account_ids, &r[3]),
                id_of(&product_ids, &r[2]),
                id_of(&agent_ids, &r[1]),
                r[5].clone(),
                r[6].clone(),
                r[7].clone(),
            ]
        })
        .collect();
    let header = [
        "Deal",
        "Stage",
        "Company ID",
        "SKU",
        "Rep ID",
        "Created",
        "Closed",
        "Amount",
    ];
    write(out, "opportunities.csv", &header, &rows);
}

/// The rewritten export's files (name, text), in import order.
fn other_files(dir: &Path) -> Vec<(&'static str, String)> {
    [
        "catalog.csv",
        "companies.csv",
        "reps.csv",
        "opportunities.csv",
    ]
    .into_iter()
    .map(|name| {
        let text = std::fs::read_to_string(dir.join(name)).expect("a rewritten file");
        (name, text)
    })
    .collect()
}

/// Imports `folder` into a new workspace `slug` through the command line.
async fn cli_import(
    app: &TestApp,
    folder: &Path,
    slug: &str,
    mapping: Option<&Path>,
) -> anyhow::Result<ImportReport> {
    server::cli::import(server::config::ImportArgs {
        folder: folder.to_path_buf(),
        workspace: slug.into(),
        owner: Some(format!("owner@{slug}.example")),
        json: true,
        mapping: mapping.map(Path::to_path_buf),
        db: server::config::DbArgs {
            database_url: app.database_url.clone(),
        },
    })
    .await
}

/// Every live record of `kind` as comparable text: its fields with references by the
/// titles they point at (ids differ between workspaces), by title.
async fn contents(app: &TestApp, slug: &str, kind: RecordKind) -> BTreeMap<String, String> {
    let ws = app.store.workspace_by_slug(slug).await.expect("workspace");
    let q = RecordQuery {
        limit: 20_000,
        ..Default::default()
    };
    let page = app.store.list_records(ws.id, kind, &q).await.expect("list");
    page.items
        .iter()
        .map(|r| {
            let fields: Vec<String> = kind
                .fields()
                .iter()
                .map(|d| format!("{}={}", d.name, r.display(d.name)))
                .collect();
            (r.title(), fields.join("|"))
        })
        .collect()
}

#[tokio::test]
async fn an_export_shaped_differently_imports_fully_through_a_mapping() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("temp dir");
    rewrite(&crm_folder(), dir.path());
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).expect("mapping file");

    let maven = cli_import(&app, &crm_folder(), "maven", None)
        .await
        .expect("maven import");
    let other = cli_import(&app, dir.path(), "other", Some(&mapping))
        .await
        .expect("mapped import");

    // Every file is read, under its own name, with the same outcome for every row.
    let names: Vec<&str> = other.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "catalog.csv",
            "companies.csv",
            "reps.csv",
            "opportunities.csv"
        ]
    );
    for (m, o) in maven.files.iter().zip(&other.files) {
        assert_eq!(o.error, None, "{}", o.file);
        assert_eq!(
            (o.rows, o.created, o.updated, o.skipped, o.flagged),
            (m.rows, m.created, m.updated, m.skipped, m.flagged),
            "{} as {}",
            m.file,
            o.file
        );
    }
    assert_eq!(
        other.file("opportunities.csv").expect("deals").created,
        8800
    );
    // The records hold the same data: every reference given by id found its record (in
    // the kinds the Maven data holds).
    for kind in [RecordKind::Customer, RecordKind::Deal, RecordKind::Product] {
        let (a, b) = (
            contents(&app, "maven", kind).await,
            contents(&app, "other", kind).await,
        );
        assert!(!a.is_empty(), "{kind:?}");
        assert_eq!(a, b, "{kind:?}");
    }
}

#[tokio::test]
async fn an_unmapped_required_column_refuses_its_file_by_name_and_the_cli_fails() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("temp dir");
    rewrite(&crm_folder(), dir.path());
    // The mapping forgets the pipeline's stage column.
    let partial = MAPPING.replace("deal_stage = \"Stage\", ", "");
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, partial).expect("mapping file");

    let err = cli_import(&app, dir.path(), "partial", Some(&mapping))
        .await
        .expect_err("a refused file fails the command");
    let message = format!("{err:#}");
    assert!(
        message.contains("opportunities.csv: the header has no column \"deal_stage\""),
        "{message}"
    );
    // The other files were imported; the refused one wrote nothing.
    let ws = app
        .store
        .workspace_by_slug("partial")
        .await
        .expect("workspace");
    let count = |kind| {
        let store = app.store.clone();
        async move {
            store
                .list_records(
                    ws.id,
                    kind,
                    &RecordQuery {
                        limit: 1,
                        ..Default::default()
                    },
                )
                .await
                .expect("list")
                .total
        }
    };
    assert_eq!(count(RecordKind::Customer).await, 85);
    assert_eq!(count(RecordKind::Deal).await, 0);

    // A mapping naming a column the importer does not read is refused before anything.
    std::fs::write(&mapping, "[accounts]\ncolumns = { website = \"URL\" }\n").expect("write");
    let err = cli_import(&app, dir.path(), "partial", Some(&mapping))
        .await
        .expect_err("unknown column");
    assert!(
        format!("{err:#}").contains("accounts has no column \"website\""),
        "{err:#}"
    );
}

#[tokio::test]
async fn an_upload_with_a_mapping_streams_its_progress_and_saves_the_mapping() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive Owner")
        .await;
    let slug = app.create_workspace_as(&app.client, "Other CRM").await;
    let dir = tempfile::tempdir().expect("temp dir");
    rewrite(&crm_folder(), dir.path());
    let mapping: app::model::import::ImportMapping = toml::from_str(MAPPING).expect("mapping");

    let json = serde_json::to_string(&mapping).expect("json");
    let ndjson = [("accept", "application/x-ndjson")];
    let res = app
        .upload_import(
            &app.client,
            &slug,
            &other_files(dir.path()),
            Some(json),
            &ndjson,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let body = res.text().await.expect("body");
    let lines: Vec<app::model::import::UploadLine> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();

    // The pipeline's progress climbs from 0 to all 8,800 rows in steps, before the report.
    use app::model::import::UploadLine;
    let deals: Vec<(u64, u64)> = lines
        .iter()
        .filter_map(|l| match l {
            UploadLine::Progress { file, done, total } if file == "opportunities.csv" => {
                Some((*done, *total))
            }
            _ => None,
        })
        .collect();
    assert_eq!(deals.first(), Some(&(0, 8800)));
    assert_eq!(deals.last(), Some(&(8800, 8800)));
    assert!(deals.len() > 10, "{} progress lines", deals.len());
    assert!(
        deals.windows(2).all(|w| w[0].0 <= w[1].0),
        "never goes back"
    );
    let Some(UploadLine::Report(report)) = lines.last() else {
        panic!("the last line is the report: {body:.200}");
    };
    assert_eq!(
        report.file("opportunities.csv").expect("deals").created,
        8800
    );

    // The mapping is the workspace's now: a later upload without one uses it.
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    assert_eq!(
        app.store.import_mapping(ws.id).await.expect("saved"),
        mapping
    );
    let catalog = other_files(dir.path()).swap_remove(0);
    let again: app::model::import::ImportReport = app
        .upload_import(&app.client, &slug, &[catalog], None, &[])
        .await
        .json()
        .await
        .expect("report");
    let catalog = again
        .file("catalog.csv")
        .expect("read under its mapped name");
    assert_eq!((catalog.error.as_deref(), catalog.unchanged), (None, 7));

    // Compressed, as browsers ask for it, the whole stream arrives (all four files again,
    // so the report is large).
    let gzip = [
        ("accept", "application/x-ndjson"),
        ("accept-encoding", "gzip"),
    ];
    let res = app
        .upload_import(&app.client, &slug, &other_files(dir.path()), None, &gzip)
        .await;
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gzipped = res.bytes().await.expect("the whole compressed stream");
    assert!(gzipped.len() > 10_000, "{} bytes", gzipped.len());

    // A mapping naming a column the importer does not read is refused before anything.
    let bad = Some(r#"{"deals": {}}"#.to_string());
    let catalog = [("catalog.csv", "x".to_string())];
    let res = app
        .upload_import(&app.client, &slug, &catalog, bad, &[])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("no file \\\"deals\\\""));
}
