//! `tandem backup`: an online copy of a SQLite database, safe while Tandem serves it
//! (`VACUUM INTO`: one consistent snapshot, the write-ahead log included, compacted),
//! marked as a restore. The copy gets a new epoch (in `store_meta` and on every room's
//! log of the old one), so when it is served again every client resyncs rather than
//! resuming from positions the copy never reached or whose offsets new writes reuse.
//! PostgreSQL has its own tools (`pg_dump`, base backups).

use anyhow::{bail, Context};
use app::model::now_ms;
use sqlx::{Connection, Row};

use crate::config::BackupArgs;

/// Copies the database of `args` to `args.to` and marks the copy; returns its size in
/// bytes.
///
/// Errors: the database is not SQLite, the target exists (nothing is overwritten), or
/// the database or the copy fails.
pub async fn backup(args: &BackupArgs) -> anyhow::Result<u64> {
    if !args.db.database_url.starts_with("sqlite:") {
        bail!("tandem backup copies SQLite databases; back PostgreSQL up with pg_dump or a base backup");
    }
    if args.to.exists() {
        bail!(
            "{} exists: give a new file (nothing is overwritten)",
            args.to.display()
        );
    }
    // Read-only, and nothing else: no file created for a mistyped path, no migration
    // run under a server of another version.
    sqlx::any::install_default_drivers();
    let url = &args.db.database_url;
    let read_only = format!("{url}{}mode=ro", if url.contains('?') { '&' } else { '?' });
    let mut source = sqlx::AnyConnection::connect(&read_only)
        .await
        .with_context(|| format!("opening {url} to read"))?;
    let target = args.to.display().to_string();
    sqlx::query("VACUUM INTO $1")
        .bind(&target)
        .execute(&mut source)
        .await
        .with_context(|| format!("copying the database to {target}"))?;
    source.close().await?;
    let mut copy = sqlx::AnyConnection::connect(&format!("sqlite://{target}"))
        .await
        .with_context(|| format!("opening the copy {target}"))?;
    let mut tx = copy.begin().await?;
    let old: i64 = sqlx::query("SELECT value FROM store_meta WHERE name = 'epoch'")
        .fetch_one(&mut *tx)
        .await?
        .try_get("value")?;
    let new = now_ms().max(old + 1);
    // Every room moves to the new epoch: the events of its current epoch with it (older
    // epochs' events, if any, stay where they are), then its head, then the database's.
    sqlx::query(
        "UPDATE room_events SET epoch = $1 WHERE epoch = \
         (SELECT h.epoch FROM room_heads h WHERE h.room = room_events.room)",
    )
    .bind(new)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE room_heads SET epoch = $1")
        .bind(new)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE store_meta SET value = $1 WHERE name = 'epoch' AND value = $2")
        .bind(new)
        .bind(old)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    copy.close().await?;
    Ok(std::fs::metadata(&args.to)?.len())
}
