//! `tandem backup`: a copy of a SQLite database taken while it is served holds its data,
//! and is marked as a restore (a new epoch, so resuming clients resync); it refuses to
//! overwrite a file and refuses PostgreSQL.

use app::realtime::protocol::Room;
use server::config::{BackupArgs, DbArgs};

use crate::common::spawn_app;
use crate::realtime::{create_customer, workspace_with_owner};

#[tokio::test]
async fn a_backup_taken_while_serving_holds_the_data_under_a_new_epoch() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        // The app is on PostgreSQL in this run; the command's refusal is checked below.
        let args = BackupArgs {
            to: std::env::temp_dir().join("never.db"),
            db: DbArgs {
                database_url: std::env::var("TEST_DATABASE_URL").unwrap_or_default(),
            },
        };
        let err = server::cli::backup::backup(&args)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("pg_dump"), "{err}");
        return;
    }
    let app = spawn_app().await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let id = create_customer(&app, &owner, &slug, "Kept").await;
    let head = app
        .store
        .room_head(Room::Workspace(ws))
        .await
        .expect("head");

    let dir = tempfile::tempdir().expect("dir");
    let to = dir.path().join("copy.db");
    let args = BackupArgs {
        to: to.clone(),
        db: DbArgs {
            database_url: app.database_url.clone(),
        },
    };
    let bytes = server::cli::backup::backup(&args).await.expect("backup");
    assert!(bytes > 0);
    // Nothing is overwritten.
    let again = server::cli::backup::backup(&args)
        .await
        .expect_err("exists");
    assert!(again.to_string().contains("exists"), "{again}");

    let copy = server::db::connect(&format!("sqlite://{}", to.display()))
        .await
        .expect("the copy opens");
    let record = copy
        .store
        .record(ws, app::model::RecordKind::Customer, id)
        .await
        .expect("the customer is in the copy");
    assert_eq!(record.title(), "Kept");
    let restored = copy
        .store
        .room_head(Room::Workspace(ws))
        .await
        .expect("head");
    assert_eq!(restored.offset, head.offset, "the whole log");
    assert!(
        restored.epoch > head.epoch,
        "a new epoch: {restored:?} after {head:?}"
    );
    let log = copy
        .store
        .room_changes(Room::Workspace(ws), restored.epoch, 0, restored.offset, 100)
        .await
        .expect("log");
    assert_eq!(
        log.len() as i64,
        restored.offset,
        "the log moved to the new epoch"
    );
}
