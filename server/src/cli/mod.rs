//! `tandem import`: imports the CRM export from a folder and prints the report;
//! `tandem seed` (in `seed.rs`), which fills a workspace with generated data; and
//! `tandem backup` (in `backup.rs`), an online copy of a SQLite database.

pub mod backup;
pub mod seed;

use anyhow::Context;
use app::model::import::{ImportMapping, ImportReport, InviteLink};
use app::model::{now_ms, Role, Workspace};
use app::ssr::store::{NewInvite, NewUser, Store};
use app::ssr::DbError;

use crate::config::ImportArgs;
use crate::{db, import};

/// Runs an import as the command line asked and prints the report (text or JSON).
///
/// Errors: the mapping file cannot be read or is not a mapping, the database cannot be
/// opened, the folder cannot be read, the workspace is missing and no `--owner` was
/// given, the store fails (then after printing the report of what was imported before),
/// or a file was refused (after printing the report, so the exit status says so).
pub async fn import(args: ImportArgs) -> anyhow::Result<ImportReport> {
    let mapping = match &args.mapping {
        Some(path) => read_mapping(path)?,
        None => ImportMapping::default(),
    };
    let db = db::connect(&args.db.database_url).await?;
    let store = db.store.as_ref();
    let files = import::read_folder(&args.folder, &mapping)
        .with_context(|| format!("reading {}", args.folder.display()))?;
    let (ws, owner, owner_link) = workspace(store, &args.workspace, args.owner.as_deref()).await?;
    let mut report =
        import::import_files(store, &ws.0, owner, &files, &mapping, &|_, _, _| {}).await?;
    report.workspace_created = ws.1;
    report.invites.extend(owner_link);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if let Some(failed) = &report.failed {
        anyhow::bail!("the import stopped at {failed}");
    }
    let refused: Vec<String> = report
        .files
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.file)))
        .collect();
    if !refused.is_empty() {
        anyhow::bail!("files were refused:\n{}", refused.join("\n"));
    }
    Ok(report)
}

/// Reads a mapping file (TOML, shaped as [`ImportMapping`]), checking that it names only
/// the importer's files and columns.
///
/// Errors: unreadable, not TOML, or naming a file or column the importer does not read.
pub fn read_mapping(path: &std::path::Path) -> anyhow::Result<ImportMapping> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the mapping {}", path.display()))?;
    let mapping: ImportMapping = toml::from_str(&text)
        .with_context(|| format!("the mapping {} is not valid", path.display()))?;
    mapping
        .check()
        .map_err(|e| anyhow::anyhow!("the mapping {}: {e}", path.display()))?;
    Ok(mapping)
}

/// The workspace named `slug` to import into or seed (and whether this run created it,
/// owned by the account with e-mail `owner`), the owner's id, and an invite link for an
/// owner account created here.
async fn workspace(
    store: &dyn Store,
    slug: &str,
    owner: Option<&str>,
) -> anyhow::Result<((Workspace, bool), Option<i64>, Option<InviteLink>)> {
    let owner = match owner {
        Some(email) => Some(owner_account(store, email).await?),
        None => None,
    };
    match store.workspace_by_slug(slug).await {
        Ok(ws) => Ok(((ws, false), owner.map(|o| o.0), None)),
        Err(DbError::NotFound) => {
            let slug = app::api::workspaces::check_slug(slug)
                .map_err(|e| anyhow::anyhow!("--workspace: {e}"))?;
            let Some((owner, created)) = owner else {
                anyhow::bail!(
                    "workspace \"{slug}\" does not exist; give --owner <email> to create it"
                );
            };
            let ws = store.create_workspace(&slug, &slug, owner).await?;
            let link = if created {
                let invite = store
                    .create_invite(NewInvite {
                        workspace_id: ws.id,
                        token: app::ssr::auth::random_token(),
                        role: Role::Admin,
                        expires_at: now_ms() + 30 * 86_400_000,
                        max_uses: 1,
                        created_by: None,
                        for_user: Some(owner),
                    })
                    .await?;
                let name = store.user(owner).await?.display_name;
                Some(InviteLink {
                    name,
                    role: Role::Owner,
                    path: invite.path(),
                })
            } else {
                None
            };
            Ok(((ws, true), Some(owner), link))
        }
        Err(e) => Err(e.into()),
    }
}

/// The account with `email`, created without a password if missing (then `true`).
async fn owner_account(store: &dyn Store, email: &str) -> anyhow::Result<(i64, bool)> {
    let email =
        app::ssr::auth::normalize_email(email).map_err(|e| anyhow::anyhow!("--owner: {e}"))?;
    if let Some(row) = store.user_by_email(&email).await? {
        return Ok((row.user.id, false));
    }
    let name = email.split('@').next().unwrap_or(&email).to_string();
    let user = store
        .create_user(NewUser {
            email: Some(email),
            password_hash: None,
            display_name: name,
        })
        .await?;
    Ok((user.id, true))
}

/// The report as text: a line per file, each problem row, then the invite links.
pub fn render(report: &ImportReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let created = if report.workspace_created {
        " (created)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "Imported into workspace {}{created} in {} ms",
        report.workspace, report.elapsed_ms
    );
    for f in &report.files {
        if let Some(e) = &f.error {
            let _ = writeln!(out, "{}: {e}", f.file);
            continue;
        }
        let _ = writeln!(
            out,
            "{}: {} rows: {} created, {} updated, {} unchanged, {} skipped, {} flagged",
            f.file, f.rows, f.created, f.updated, f.unchanged, f.skipped, f.flagged
        );
        for p in &f.problems {
            let what = if p.skipped { "skipped" } else { "flagged" };
            let _ = writeln!(out, "  line {} ({}): {what}: {}", p.line, p.key, p.reason);
        }
    }
    if !report.invites.is_empty() {
        let _ = writeln!(
            out,
            "Invite links for people who have not joined yet (append to the site's address):"
        );
        for i in &report.invites {
            let _ = writeln!(out, "  {} ({}): {}", i.name, i.role.label(), i.path);
        }
    }
    out
}
