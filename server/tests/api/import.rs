//! The import of the real Maven CRM export: exact counts and flags on the first run
//! (through the upload route), nothing created on the second (through the CLI), and an
//! imported agent taking over their account through the invite link the report lists.

use std::path::PathBuf;

use crate::common::{client, sign_up, spawn_app};
use app::api::records::{DeleteRecord, ListRecords};
use app::model::import::ImportReport;
use app::model::{RecordKind, RecordQuery, Role, Value};

/// The shared CRM export (`../shared/data/maven-crm` beside the repository), or
/// `TANDEM_CRM_DATA`.
pub(crate) fn crm_folder() -> PathBuf {
    std::env::var_os("TANDEM_CRM_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/maven-crm")
        })
}

fn count_problems(report: &ImportReport, file: &str, needle: &str) -> usize {
    report
        .file(file)
        .expect("file in report")
        .problems
        .iter()
        .filter(|p| p.reason.contains(needle))
        .count()
}

async fn total(
    app: &crate::common::TestApp,
    ws: i64,
    kind: RecordKind,
    filters: &[(&str, Value)],
) -> i64 {
    let mut q = RecordQuery {
        limit: 1,
        ..Default::default()
    };
    for (k, v) in filters {
        q.filters.insert(k.to_string(), v.clone());
    }
    app.store
        .list_records(ws, kind, &q)
        .await
        .expect("list")
        .total
}

#[tokio::test]
async fn the_maven_export_imports_exactly_and_a_second_run_changes_nothing() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive Owner")
        .await;
    let slug = app.create_workspace_as(&app.client, "Maven").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");

    // First run: the four files through the upload route, as the import page sends them.
    let files = server::import::read_folder(&crm_folder(), &Default::default())
        .expect("CRM data beside the repository");
    assert_eq!(files.len(), 4);
    let files: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let res = app
        .upload_import(&app.client, &slug, &files, None, &[])
        .await;
    assert_eq!(res.status(), 200);
    let first: ImportReport = res.json().await.expect("report");

    let f = |name: &str| first.file(name).cloned().expect("file reported");
    let (products, accounts, teams, pipeline) = (
        f("products.csv"),
        f("accounts.csv"),
        f("sales_teams.csv"),
        f("sales_pipeline.csv"),
    );
    assert_eq!(
        (
            products.rows,
            products.created,
            products.flagged,
            products.skipped
        ),
        (7, 7, 0, 0)
    );
    assert_eq!(
        (
            accounts.rows,
            accounts.created,
            accounts.flagged,
            accounts.skipped
        ),
        (85, 85, 12, 0)
    );
    assert_eq!(
        count_problems(
            &first,
            "accounts.csv",
            "sector \"technolgy\" looks like a misspelling of \"technology\""
        ),
        12
    );
    assert_eq!((teams.rows, teams.created, teams.skipped), (35, 35, 0));
    assert_eq!(
        (
            pipeline.rows,
            pipeline.created,
            pipeline.updated,
            pipeline.skipped
        ),
        (8800, 8800, 0, 0)
    );
    // 1,425 deals without an account and 1,480 GTXPro deals, 222 of them both.
    assert_eq!(pipeline.flagged, 1425 + 1480 - 222);
    assert_eq!(
        count_problems(&first, "sales_pipeline.csv", "no account"),
        1425
    );
    assert_eq!(
        count_problems(
            &first,
            "sales_pipeline.csv",
            "product \"GTXPro\" read as \"GTX Pro\""
        ),
        1480
    );
    assert_eq!(
        pipeline.problems.len() as u64,
        pipeline.flagged,
        "every flagged row is listed"
    );
    assert!(pipeline
        .problems
        .iter()
        .all(|p| p.line >= 2 && !p.key.is_empty()));

    // What landed: misspelt sector kept as written, parents linked, empty values empty.
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Customer,
            &[("sector", Value::Text("technolgy".into()))]
        )
        .await,
        12
    );
    let all = app
        .store
        .list_records(
            ws.id,
            RecordKind::Customer,
            &RecordQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .expect("all");
    assert_eq!(
        all.items
            .iter()
            .filter(|c| !c.get("parent_id").is_null())
            .count(),
        15
    );
    let acme = all
        .items
        .iter()
        .find(|c| c.title() == "Acme Corporation")
        .expect("Acme");
    assert_eq!(acme.get("revenue"), &Value::Float(1100.04));
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Deal,
            &[("customer_id", Value::Null)]
        )
        .await,
        1425
    );
    let gtx_pro = app
        .store
        .ids_by_key(ws.id, RecordKind::Product)
        .await
        .expect("products")["GTX Pro"];
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Deal,
            &[("product_id", Value::Int(gtx_pro))]
        )
        .await,
        1480
    );
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Deal,
            &[("close_date", Value::Null)]
        )
        .await,
        2089
    );
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Deal,
            &[("engage_date", Value::Null)]
        )
        .await,
        500
    );

    // People: 35 agents as members, their 6 managers as admins, each with a claim link.
    let members = app.store.members(ws.id).await.expect("members");
    assert_eq!(members.len(), 1 + 35 + 6);
    assert_eq!(members.iter().filter(|m| m.role == Role::Admin).count(), 6);
    assert_eq!(members.iter().filter(|m| !m.joined).count(), 41);
    assert_eq!(first.invites.len(), 41);
    let in_region = |r: &str| {
        members
            .iter()
            .filter(|m| m.region.as_deref() == Some(r))
            .count()
    };
    // Agents with their regional office; each manager with their team's.
    assert_eq!(
        (in_region("Central"), in_region("East"), in_region("West")),
        (13, 14, 14)
    );

    // Second run, through the command line: nothing created, nothing updated.
    let args = server::config::ImportArgs {
        folder: crm_folder(),
        workspace: slug.clone(),
        owner: None,
        json: true,
        mapping: None,
        db: server::config::DbArgs {
            database_url: app.database_url.clone(),
        },
    };
    let second = server::cli::import(args).await.expect("second import");
    for (a, b) in first.files.iter().zip(&second.files) {
        assert_eq!((b.created, b.updated, b.skipped), (0, 0, 0), "{}", b.file);
        assert_eq!(b.unchanged, a.rows, "{}", b.file);
        assert_eq!(
            b.flagged, a.flagged,
            "{}: the same rows are flagged again",
            b.file
        );
    }
    let paths = |r: &ImportReport| r.invites.iter().map(|i| i.path.clone()).collect::<Vec<_>>();
    assert_eq!(
        paths(&first),
        paths(&second),
        "the same links, no new invites"
    );
    assert_eq!(app.store.invites(ws.id).await.expect("invites").len(), 41);

    // An agent follows their link and takes over their account and deals.
    let link = first
        .invites
        .iter()
        .find(|i| i.name == "Darcel Schlecht")
        .expect("Darcel's link");
    let token = link.path.trim_start_matches("/invite/");
    let darcel_id = members
        .iter()
        .find(|m| m.user.display_name == "Darcel Schlecht")
        .expect("member")
        .user
        .id;
    let deals_before = total(
        &app,
        ws.id,
        RecordKind::Deal,
        &[("owner_id", Value::Int(darcel_id))],
    )
    .await;
    assert!(deals_before > 0);
    let darcel = client();
    let signed = app
        .run(
            &darcel,
            sign_up(
                "darcel@example.com",
                "Darcel Schlecht",
                Some(token.to_string()),
            ),
        )
        .await
        .expect("claim");
    assert_eq!(
        signed.user.id, darcel_id,
        "the same account, now with an e-mail"
    );
    let mut query = RecordQuery::default();
    query
        .filters
        .insert("owner_id".into(), Value::Int(darcel_id));
    let mine = app
        .run(
            &darcel,
            ListRecords {
                slug: slug.clone(),
                kind: RecordKind::Deal,
                query,
            },
        )
        .await
        .expect("my deals");
    assert_eq!(mine.total, deals_before);
}

#[tokio::test]
async fn bad_rows_and_unknown_files_are_reported_not_dropped() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive")
        .await;
    let slug = app.create_workspace_as(&app.client, "Small").await;
    let pipeline = "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n\
                    A1,Nobody,MG Special,,Won,2017-01-02,2017-02-30,12x\n\
                    A2,Nobody,MG Special,,Negotiating,,,\n\
                    A3,short,row\n";
    let files = [
        ("sales_pipeline.csv", pipeline.to_string()),
        ("notes.csv", "a,b\n".to_string()),
    ];
    let res = app
        .upload_import(&app.client, &slug, &files, None, &[])
        .await;
    let report: ImportReport = res.json().await.expect("report");
    assert!(report
        .file("notes.csv")
        .and_then(|f| f.error.clone())
        .is_some_and(|e| e.contains("ignored")));
    let p = report.file("sales_pipeline.csv").expect("pipeline");
    assert_eq!((p.rows, p.created, p.skipped, p.flagged), (3, 1, 2, 1));
    let a1 = p
        .problems
        .iter()
        .find(|x| x.key == "A1")
        .expect("A1 listed");
    for part in [
        "no account",
        "unknown product",
        "unknown sales agent",
        "Close date",
        "Value",
    ] {
        assert!(
            a1.reason.contains(part) || a1.reason.to_lowercase().contains(&part.to_lowercase()),
            "{part} in {}",
            a1.reason
        );
    }
    assert!(p
        .problems
        .iter()
        .any(|x| x.key == "A2" && x.skipped && x.reason.contains("Stage")));
    assert!(
        p.problems.iter().any(|x| x.line == 4 && x.skipped),
        "the short row is reported with its line"
    );
}

/// Uploads CSV files (name, text) to the import route as `c` and returns the report.
async fn upload(
    app: &crate::common::TestApp,
    c: &reqwest::Client,
    slug: &str,
    files: &[(&str, String)],
) -> ImportReport {
    let res = app.upload_import(c, slug, files, None, &[]).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("report")
}

#[tokio::test]
async fn people_who_chose_an_imported_name_are_never_taken_for_them() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive Owner")
        .await;
    let slug = app.create_workspace_as(&app.client, "Maven").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    // Two viewers join first, under a manager's and an agent's name.
    let mut impostors = Vec::new();
    for (email, name) in [
        ("melvin@example.com", "Melvin Marxen"),
        ("darcel@example.com", "Darcel Schlecht"),
    ] {
        let token = app.invite_as(&app.client, &slug, "viewer").await;
        let c = client();
        let v = app
            .run(&c, sign_up(email, name, Some(token)))
            .await
            .expect("viewer joins");
        impostors.push(v.user.id);
    }
    let folder = server::import::read_folder(&crm_folder(), &Default::default()).expect("CRM data");
    let files: Vec<(&str, String)> = folder
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    for run in 0..2 {
        let report = upload(&app, &app.client, &slug, &files).await;
        assert!(report.failed.is_none(), "{:?}", report.failed);
        for id in &impostors {
            assert_eq!(
                app.store.role(ws.id, *id).await.expect("role"),
                Some(Role::Viewer),
                "run {run}: still a viewer"
            );
            assert_eq!(
                total(
                    &app,
                    ws.id,
                    RecordKind::Deal,
                    &[("owner_id", Value::Int(*id))]
                )
                .await,
                0,
                "run {run}: owns no imported deals"
            );
        }
    }
    // The real Melvin and Darcel are placeholders of their own, with their roles.
    let members = app.store.members(ws.id).await.expect("members");
    let named = |n: &str| members.iter().filter(|m| m.user.display_name == n).count();
    assert_eq!((named("Melvin Marxen"), named("Darcel Schlecht")), (2, 2));

    // A claimed account keeps its deals under another name, and re-import changes nothing.
    let report = upload(&app, &app.client, &slug, &files).await;
    let link = report
        .invites
        .iter()
        .find(|i| i.name == "Moses Frase")
        .expect("Moses' link");
    let moses = client();
    let token = link.path.trim_start_matches("/invite/").to_string();
    let claimed = app
        .run(&moses, sign_up("moses@example.com", "Mo F.", Some(token)))
        .await
        .expect("claim");
    let moses_id = claimed.user.id;
    let deals = total(
        &app,
        ws.id,
        RecordKind::Deal,
        &[("owner_id", Value::Int(moses_id))],
    )
    .await;
    assert!(deals > 0);
    let again = upload(&app, &app.client, &slug, &files).await;
    for f in &again.files {
        assert_eq!((f.created, f.updated), (0, 0), "{}", f.file);
    }
    assert_eq!(
        total(
            &app,
            ws.id,
            RecordKind::Deal,
            &[("owner_id", Value::Int(moses_id))]
        )
        .await,
        deals
    );
}

#[tokio::test]
async fn a_bad_key_a_duplicate_and_a_deleted_record_are_skipped_rows() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive")
        .await;
    let slug = app.create_workspace_as(&app.client, "Small").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    let long_id = "X".repeat(50);
    let pipeline = format!(
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n\
         B1,,,,Won,,,\n\
         {long_id},,,,Won,,,\n\
         B2,,,,Lost,,,\n\
         B1,,,,Lost,,,\n"
    );
    let report = upload(
        &app,
        &app.client,
        &slug,
        &[("sales_pipeline.csv", pipeline.clone())],
    )
    .await;
    let p = report.file("sales_pipeline.csv").expect("pipeline");
    assert_eq!((p.rows, p.created, p.skipped), (4, 2, 2), "{p:?}");
    assert!(p
        .problems
        .iter()
        .any(|x| x.key == long_id && x.skipped && x.line == 3));
    assert!(p
        .problems
        .iter()
        .any(|x| x.key == "B1" && x.line == 5 && x.skipped && x.reason.contains("line 2")));
    assert_eq!(total(&app, ws.id, RecordKind::Deal, &[]).await, 2);

    // A customer deleted here is not brought back by a re-import.
    let accounts =
        "account,sector,year_established,revenue,employees,office_location,subsidiary_of\n\
                    Gone Inc,retail,2000,1,1,Here,\n\
                    Kept Inc,retail,2000,1,1,Here,\n"
            .to_string();
    upload(
        &app,
        &app.client,
        &slug,
        &[("accounts.csv", accounts.clone())],
    )
    .await;
    let gone = app
        .store
        .ids_by_key(ws.id, RecordKind::Customer)
        .await
        .expect("ids")["Gone Inc"];
    let delete = DeleteRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id: gone,
        version: 1,
    };
    app.run(&app.client, delete).await.expect("delete");
    let again = upload(&app, &app.client, &slug, &[("accounts.csv", accounts)]).await;
    let a = again.file("accounts.csv").expect("accounts");
    assert_eq!((a.created, a.unchanged, a.skipped), (0, 1, 1), "{a:?}");
    assert!(a
        .problems
        .iter()
        .any(|x| x.key == "Gone Inc" && x.skipped && x.reason.contains("deleted")));
    assert_eq!(total(&app, ws.id, RecordKind::Customer, &[]).await, 1);
}

#[tokio::test]
async fn an_admins_import_makes_managers_members_only_the_owners_makes_admins() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "owner@example.com", "Olive")
        .await;
    let slug = app.create_workspace_as(&app.client, "Team").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    let admin = app
        .member_with_role(&app.client, &slug, "admin", "admin@example.com")
        .await;
    let teams = "sales_agent,manager,regional_office\nAl Agent,Mia Manager,East\n".to_string();
    let report = upload(&app, &admin, &slug, &[("sales_teams.csv", teams)]).await;
    let f = report.file("sales_teams.csv").expect("teams");
    assert!(f
        .problems
        .iter()
        .any(|p| p.key == "Mia Manager" && p.reason.contains("only the owner")));
    let mia = app
        .store
        .members(ws.id)
        .await
        .expect("members")
        .into_iter()
        .find(|m| m.user.display_name == "Mia Manager")
        .expect("Mia");
    assert_eq!(mia.role, Role::Member);
    assert!(
        report.invites.iter().all(|i| i.role != Role::Admin),
        "no admin claim link from an admin's import"
    );
}

/// The check the CSV fuzzer runs (`server::import::check_file`), on each real Maven
/// file: it reads them whole, and every row is either kept for writing or reported.
#[test]
fn checking_each_maven_file_accounts_for_every_row() {
    for stem in ["products", "accounts", "sales_teams", "sales_pipeline"] {
        let text = std::fs::read_to_string(crm_folder().join(format!("{stem}.csv")))
            .expect("the Maven file");
        let (report, kept) = server::import::check_file(stem, &text).expect("an export file");
        assert_eq!(report.error, None, "{stem}");
        assert_eq!(
            report.rows,
            text.lines().filter(|l| !l.trim().is_empty()).count() as u64 - 1,
            "{stem}: every data line read"
        );
        assert_eq!(
            kept + report.skipped,
            report.rows,
            "{stem}: every row kept or reported"
        );
        assert!(kept > 0, "{stem}");
    }
    assert!(server::import::check_file("notes", "a,b\n1,2\n").is_none());
    let (refused, kept) =
        server::import::check_file("accounts", "no,such,columns\n1,2,3\n").expect("accounts");
    assert!(refused.error.is_some_and(|e| e.contains("account")));
    assert_eq!(kept, 0);
}
