//! Editing together through `/api/update_record` and `/api/restore_record`: the
//! three-way merge's answers, explicit overwrite, idempotency keys, restore and the
//! deleted record's answer, each checked against what the store and its log then hold.

use crate::common::{owner_with_customer, spawn_app, update_field};
use app::api::records::{DeleteRecord, GetRecord, RestoreRecord, UpdateRecord};
use app::error::AppError;
use app::model::{FieldChange, RecordKind, Value};
use app::realtime::protocol::Change;

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[tokio::test]
async fn a_clash_names_base_mine_theirs_with_who_and_when_and_applies_nothing() {
    let app = spawn_app().await;
    let (owner, slug, id) = owner_with_customer(&app, "ann@example.com", "Acme", "Acme").await;
    let bo = app
        .member_with_role(&owner, &slug, "member", "bo@example.com")
        .await;
    let edit = |field: &str, base: Value, value: &str| {
        update_field(&slug, RecordKind::Customer, id, field, base, text(value))
    };
    let first = app
        .run(&owner, edit("sector", Value::Null, "retail"))
        .await
        .expect("ann's edit");
    // Bo edits the same field from the same base, and another field too: nothing of his
    // edit lands.
    let mut clash = edit("sector", Value::Null, "media");
    clash.changes.insert(
        "office_location".into(),
        FieldChange {
            base: Value::Null,
            value: text("Oslo"),
        },
    );
    let e = app.run(&bo, clash).await.expect_err("a conflict");
    let AppError::Conflict(c) = e else {
        panic!("expected a conflict, got {e:?}")
    };
    assert_eq!(c.fields.len(), 1, "only the clashing field: {c:?}");
    let f = &c.fields[0];
    assert_eq!(
        (&f.field[..], &f.base, &f.mine, &f.theirs),
        ("sector", &Value::Null, &text("media"), &text("retail"))
    );
    assert_eq!(f.by_name.as_deref(), Some("ann@example.com"));
    assert_eq!(f.at, Some(first.updated_at));
    assert_eq!(c.current.version, first.version);
    let now = app
        .run(
            &bo,
            GetRecord {
                slug: slug.clone(),
                kind: RecordKind::Customer,
                id,
            },
        )
        .await
        .expect("read");
    assert_eq!(now.record.version, first.version, "nothing applied");
    assert_eq!(now.record.get("office_location"), &Value::Null);
}

#[tokio::test]
async fn an_explicit_overwrite_applies_and_is_logged_with_who_and_which_fields() {
    let app = spawn_app().await;
    let (owner, slug, id) = owner_with_customer(&app, "ann@example.com", "Acme", "Acme").await;
    let bo = app
        .member_with_role(&owner, &slug, "member", "bo@example.com")
        .await;
    app.run(
        &owner,
        update_field(
            &slug,
            RecordKind::Customer,
            id,
            "sector",
            Value::Null,
            text("retail"),
        ),
    )
    .await
    .expect("ann's edit");
    let mut force = update_field(
        &slug,
        RecordKind::Customer,
        id,
        "sector",
        Value::Null,
        text("media"),
    );
    force.overwrite = Some(vec!["sector".into()]);
    let r = app.run(&bo, force).await.expect("overwrite");
    assert_eq!(r.get("sector"), &text("media"));
    assert_eq!(r.version, 3);

    let log = app.customer_log(id).await;
    let Some(Change::Updated {
        fields,
        overwritten,
        actor,
        ..
    }) = log.last()
    else {
        panic!("an update last: {log:?}")
    };
    assert_eq!(overwritten, &vec!["sector".to_string()]);
    assert_eq!(fields.get("sector"), Some(&text("media")));
    assert_eq!(*actor, Some(r.updated_by.expect("bo")));

    // An overwrite of a field the edit does not change is refused.
    let mut odd = update_field(
        &slug,
        RecordKind::Customer,
        id,
        "sector",
        text("media"),
        text("x"),
    );
    odd.overwrite = Some(vec!["name".into()]);
    let e = app.run(&bo, odd).await.expect_err("refused");
    assert_eq!(e.field(), Some("name"));
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_answer_and_changes_nothing() {
    let app = spawn_app().await;
    let (owner, slug, id) = owner_with_customer(&app, "ann@example.com", "Acme", "Acme").await;
    let bo = app
        .member_with_role(&owner, &slug, "member", "bo@example.com")
        .await;
    let keyed = |base: Value, value: &str, key: &str| UpdateRecord {
        idempotency_key: Some(key.into()),
        ..update_field(&slug, RecordKind::Customer, id, "sector", base, text(value))
    };
    let first = app
        .run(&owner, keyed(Value::Null, "retail", "k-1"))
        .await
        .expect("first");
    assert_eq!(first.version, 2);
    // Someone changes the field since; the replay still answers what it answered.
    app.run(
        &bo,
        update_field(
            &slug,
            RecordKind::Customer,
            id,
            "sector",
            text("retail"),
            text("media"),
        ),
    )
    .await
    .expect("bo's edit");
    let replay = app
        .run(&owner, keyed(Value::Null, "retail", "k-1"))
        .await
        .expect("replayed");
    assert_eq!(replay, first);
    let log = app.customer_log(id).await;
    assert_eq!(log.len(), 3, "created, ann's edit, bo's edit: {log:?}");
    let stored = app
        .run(
            &owner,
            GetRecord {
                slug: slug.clone(),
                kind: RecordKind::Customer,
                id,
            },
        )
        .await
        .expect("read");
    assert_eq!(stored.record.get("sector"), &text("media"));
    assert_eq!(stored.record.version, 3);

    // A conflict is a first answer too: replayed as a conflict, even once it would apply.
    let e = app
        .run(&owner, keyed(Value::Null, "medical", "k-2"))
        .await
        .expect_err("conflict");
    assert!(matches!(e, AppError::Conflict(_)), "{e:?}");
    let again = app
        .run(&owner, keyed(Value::Null, "medical", "k-2"))
        .await
        .expect_err("the same conflict");
    assert_eq!(again, e);

    // Keys are per user: Bo's k-1 is his own.
    let bo_k1 = app
        .run(&bo, keyed(text("media"), "legal", "k-1"))
        .await
        .expect("bo's own key");
    assert_eq!(bo_k1.version, 4);

    // Both at once with one key: one applies, the other gets its answer.
    let (a, b) = tokio::join!(
        app.run(&owner, keyed(text("legal"), "energy", "k-3")),
        app.run(&owner, keyed(text("legal"), "energy", "k-3")),
    );
    assert_eq!(a.expect("one"), b.expect("other"));
    assert_eq!(app.customer_log(id).await.len(), 5);
}

#[tokio::test]
async fn admins_restore_a_deleted_record_members_may_not_and_updates_say_who_deleted_it() {
    let app = spawn_app().await;
    let (owner, slug, id) = owner_with_customer(&app, "ann@example.com", "Acme", "Acme").await;
    let bo = app
        .member_with_role(&owner, &slug, "member", "bo@example.com")
        .await;
    app.run(
        &bo,
        DeleteRecord {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            id,
            version: 1,
        },
    )
    .await
    .expect("bo deletes");

    let e = app
        .run(
            &owner,
            update_field(
                &slug,
                RecordKind::Customer,
                id,
                "sector",
                Value::Null,
                text("retail"),
            ),
        )
        .await
        .expect_err("deleted");
    let AppError::Gone(message) = &e else {
        panic!("expected gone, got {e:?}")
    };
    assert!(message.contains("bo@example.com deleted"), "{message}");

    let restore = RestoreRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id,
    };
    let e = app.run(&bo, restore.clone()).await.expect_err("member");
    assert!(matches!(e, AppError::Forbidden(_)), "{e:?}");
    let back = app.run(&owner, restore.clone()).await.expect("restored");
    assert_eq!((back.version, back.deleted_at), (3, None));
    let log = app.customer_log(id).await;
    assert!(
        matches!(log.last(), Some(Change::Restored { record, actor, .. })
            if record.version == 3 && *actor == back.updated_by),
        "{log:?}"
    );
    // Live again: it can be edited, and restoring it twice is refused.
    app.run(
        &bo,
        update_field(
            &slug,
            RecordKind::Customer,
            id,
            "sector",
            Value::Null,
            text("retail"),
        ),
    )
    .await
    .expect("edit after restore");
    let e = app.run(&owner, restore).await.expect_err("not deleted");
    assert_eq!(e.field(), Some("record"));
}
