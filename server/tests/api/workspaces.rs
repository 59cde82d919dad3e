//! Workspaces, members, invites and roles over HTTP, and isolation: a member of one
//! workspace reaches nothing of another through any server function.

use crate::common::{
    browser, client, owner_with_customer, sign_up, spawn_app, update_field, TestApp,
};
use app::api::auth::{LogIn, LogOut};
use app::api::members::{
    AcceptInvite, CreateInvite, ListInvites, ListMembers, PreviewInvite, RemoveMember,
    RevokeInvite, SetMemberRole,
};
use app::api::records::{CreateRecord, DeleteRecord, GetRecord, ListMemberChoices, ListRecords};
use app::api::workspaces::{CreateWorkspace, ListWorkspaces, OpenWorkspace, RenameWorkspace};
use app::error::AppError;
use app::model::{Fields, RecordKind, RecordQuery, Role, Value};
use app::ssr::store::NewInvite;
use reqwest::cookie::CookieStore;
use serde_json::json;

/// A text field value.
fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// The id of the account with e-mail `email`.
async fn user_id(app: &TestApp, email: &str) -> i64 {
    let found = app.store.user_by_email(email).await.expect("lookup");
    found.expect("an account").user.id
}

/// A member invite to `slug` with `max_uses` uses, made by `owner`; returns its token.
async fn member_invite(
    app: &TestApp,
    owner: &reqwest::Client,
    slug: &str,
    max_uses: i64,
) -> String {
    let args = CreateInvite {
        slug: slug.into(),
        role: Role::Member,
        expires_in_days: 1,
        max_uses,
    };
    app.run(owner, args).await.expect("invite").token
}

fn is_hidden(e: &AppError) -> bool {
    matches!(e, AppError::NotFound(_) | AppError::Forbidden(_))
}

#[tokio::test]
async fn workspaces_are_created_listed_renamed_and_remembered() {
    let app = spawn_app().await;
    app.sign_up_as(&app.client, "ann@example.com", "Ann").await;
    let slug = app
        .create_workspace_as(&app.client, "Acme Sales (EU)")
        .await;
    assert_eq!(slug, "acme-sales-eu");
    let again = app
        .run(
            &app.client,
            CreateWorkspace {
                name: "Other".into(),
                slug: Some("acme-sales-eu".into()),
            },
        )
        .await;
    assert_eq!(again.expect_err("slug taken").field(), Some("slug"));
    let second = app.create_workspace_as(&app.client, "Beta").await;

    let list = app.run(&app.client, ListWorkspaces {}).await.expect("list");
    let names: Vec<&str> = list.iter().map(|m| m.workspace.name.as_str()).collect();
    assert_eq!(names, ["Acme Sales (EU)", "Beta"]);
    assert!(list.iter().all(|m| m.role == Role::Owner));

    let args = RenameWorkspace {
        slug: slug.clone(),
        name: "Acme Europe".into(),
    };
    let renamed = app.run(&app.client, args).await.expect("rename");
    assert_eq!(renamed.name, "Acme Europe");

    // Opening a workspace remembers it: the next log-in goes there.
    let args = OpenWorkspace {
        slug: second.clone(),
    };
    app.run(&app.client, args).await.expect("open");
    app.run(&app.client, LogOut {}).await.expect("log out");
    let args = LogIn {
        email: "ann@example.com".into(),
        password: "password123".into(),
    };
    let signed = app.run(&app.client, args).await.expect("log in");
    assert_eq!(signed.next, format!("/w/{second}/dashboard"));
}

#[tokio::test]
async fn invites_are_accepted_signed_in_or_by_signing_up_and_stop_when_revoked() {
    let app = spawn_app().await;
    let (owner, slug, _) =
        owner_with_customer(&app, "owner@example.com", "Acme", "Acme Corporation").await;
    let token = app.invite_as(&owner, &slug, "member").await;

    let preview = app
        .run(
            &client(),
            PreviewInvite {
                token: token.clone(),
            },
        )
        .await
        .expect("preview");
    assert_eq!(preview.workspace_name, "Acme");
    assert!(preview.live);

    // A signed-in user accepts.
    let bob = client();
    app.sign_up_as(&bob, "bob@example.com", "Bob").await;
    let ws = app
        .run(
            &bob,
            AcceptInvite {
                token: token.clone(),
            },
        )
        .await
        .expect("accept");
    assert_eq!(ws.slug, slug);
    // A visitor signs up through the link and lands in the workspace.
    let cat = client();
    let signed = app
        .run(&cat, sign_up("cat@example.com", "Cat", Some(token.clone())))
        .await
        .expect("sign up via invite");
    assert_eq!(signed.next, format!("/w/{slug}/dashboard"));

    let members = app
        .run(&owner, ListMembers { slug: slug.clone() })
        .await
        .expect("members");
    let roles: Vec<(String, Role)> = members
        .iter()
        .map(|m| (m.user.display_name.clone(), m.role))
        .collect();
    assert!(
        roles.contains(&("Bob".into(), Role::Member))
            && roles.contains(&("Cat".into(), Role::Member))
    );
    let invites = app
        .run(&owner, ListInvites { slug: slug.clone() })
        .await
        .expect("invites");
    assert_eq!(invites[0].uses, 2);

    // Revoked: no one else can use it.
    let args = RevokeInvite {
        slug: slug.clone(),
        invite_id: invites[0].id,
    };
    app.run(&owner, args).await.expect("revoke");
    let dan = client();
    app.sign_up_as(&dan, "dan@example.com", "Dan").await;
    let e = app
        .run(&dan, AcceptInvite { token })
        .await
        .expect_err("revoked");
    assert_eq!(e.field(), Some("token"));
    let e = app
        .run(&dan, OpenWorkspace { slug })
        .await
        .expect_err("not a member");
    assert!(is_hidden(&e));
}

#[tokio::test]
async fn expired_and_used_up_invites_are_refused() {
    let app = spawn_app().await;
    let (_, slug, _) = owner_with_customer(&app, "owner@example.com", "Acme", "X").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    let expired = app
        .store
        .create_invite(NewInvite {
            workspace_id: ws.id,
            token: "expiredtoken".into(),
            role: app::model::Role::Member,
            expires_at: app::model::now_ms() - 1,
            max_uses: 5,
            created_by: None,
            for_user: None,
        })
        .await
        .expect("invite");
    let bob = client();
    app.sign_up_as(&bob, "bob@example.com", "Bob").await;
    let e = app
        .run(
            &bob,
            AcceptInvite {
                token: expired.token,
            },
        )
        .await
        .expect_err("expired");
    assert_eq!(e.field(), Some("token"));

    let once = app
        .store
        .create_invite(NewInvite {
            workspace_id: ws.id,
            token: "oncetoken".into(),
            role: app::model::Role::Viewer,
            expires_at: app::model::now_ms() + 60_000,
            max_uses: 1,
            created_by: None,
            for_user: None,
        })
        .await
        .expect("invite");
    let accept = || AcceptInvite {
        token: once.token.clone(),
    };
    app.run(&bob, accept()).await.expect("first use");
    let cat = client();
    app.sign_up_as(&cat, "cat@example.com", "Cat").await;
    let e = app.run(&cat, accept()).await.expect_err("used up");
    assert_eq!(e.field(), Some("token"));
}

#[tokio::test]
async fn roles_are_enforced_on_the_server() {
    let app = spawn_app().await;
    let (owner, slug, customer) =
        owner_with_customer(&app, "owner@example.com", "Acme", "Acme Corporation").await;
    let viewer = app
        .member_with_role(&owner, &slug, "viewer", "viewer@example.com")
        .await;
    let member = app
        .member_with_role(&owner, &slug, "member", "member@example.com")
        .await;
    let admin = app
        .member_with_role(&owner, &slug, "admin", "admin@example.com")
        .await;

    // Viewers read everything and change nothing.
    let args = GetRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id: customer,
    };
    let got = app.run(&viewer, args).await.expect("read");
    assert_eq!(got.record.get("name"), &text("Acme Corporation"));
    let writes = [
        (
            "create_record",
            json!({"slug": slug, "kind": "customer", "fields": {"name": "New"}}),
        ),
        (
            "update_record",
            json!({"slug": slug, "kind": "customer", "id": customer, "changes": {"sector": {"base": null, "value": "retail"}}}),
        ),
        (
            "delete_record",
            json!({"slug": slug, "kind": "customer", "id": customer, "version": 1}),
        ),
        (
            "create_invite",
            json!({"slug": slug, "role": "viewer", "expires_in_days": 1, "max_uses": 1}),
        ),
    ];
    for (f, body) in &writes {
        let e = app
            .call_as::<serde_json::Value>(&viewer, f, body.clone())
            .await
            .expect_err(f);
        assert!(matches!(e, AppError::Forbidden(_)), "viewer {f}: {e:?}");
    }
    // Members write records but cannot manage people or import.
    let args = update_field(
        &slug,
        RecordKind::Customer,
        customer,
        "sector",
        Value::Null,
        text("retail"),
    );
    let updated = app.run(&member, args).await.expect("member writes");
    assert_eq!(updated.version, 2);
    for (f, body) in [
        (
            "create_invite",
            json!({"slug": slug, "role": "viewer", "expires_in_days": 1, "max_uses": 1}),
        ),
        ("list_invites", json!({"slug": slug})),
        ("rename_workspace", json!({"slug": slug, "name": "Mine"})),
    ] {
        let e = app
            .call_as::<serde_json::Value>(&member, f, body)
            .await
            .expect_err(f);
        assert!(matches!(e, AppError::Forbidden(_)), "member {f}: {e:?}");
    }
    let products = [("products.csv", "product,series,sales_price\n".to_string())];
    let res = app
        .upload_import(&member, &slug, &products, None, &[])
        .await;
    assert_eq!(res.status(), 403, "members cannot import");

    // Admins invite, but only the owner makes admins; nobody changes the owner.
    let _token = app.invite_as(&admin, &slug, "member").await;
    let members = app
        .run(&owner, ListMembers { slug: slug.clone() })
        .await
        .expect("members");
    let id_of = |email: &str| {
        members
            .iter()
            .find(|m| m.user.email.as_deref() == Some(email))
            .map(|m| m.user.id)
            .expect("member")
    };
    let set_role = |email: &str, role: Role| SetMemberRole {
        slug: slug.clone(),
        user_id: id_of(email),
        role,
    };
    let remove = |email: &str| RemoveMember {
        slug: slug.clone(),
        user_id: id_of(email),
    };
    let e = app
        .run(&admin, set_role("member@example.com", Role::Admin))
        .await
        .expect_err("admin makes admin");
    assert!(matches!(e, AppError::Forbidden(_)));
    let e = app
        .run(&admin, remove("owner@example.com"))
        .await
        .expect_err("remove owner");
    assert_eq!(e.field(), Some("user_id"));
    app.run(&admin, set_role("viewer@example.com", Role::Member))
        .await
        .expect("promote");
    app.run(&owner, remove("member@example.com"))
        .await
        .expect("remove");
    let args = ListRecords {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        query: RecordQuery::default(),
    };
    let e = app.run(&member, args).await.expect_err("removed");
    assert!(is_hidden(&e), "a removed member sees nothing");
}

#[tokio::test]
async fn a_member_of_one_workspace_reaches_nothing_of_another() {
    let app = spawn_app().await;
    let (a, slug_a, customer_a) =
        owner_with_customer(&app, "a@example.com", "Alpha", "Alpha Customer").await;
    let (b, slug_b, customer_b) =
        owner_with_customer(&app, "b@example.com", "Beta", "Beta Customer").await;
    let args = CreateInvite {
        slug: slug_b.clone(),
        role: Role::Member,
        expires_in_days: 1,
        max_uses: 1,
    };
    let b_invite = app.run(&b, args).await.expect("invite");
    let b_members = app
        .run(
            &b,
            ListMembers {
                slug: slug_b.clone(),
            },
        )
        .await
        .expect("members");
    let b_user = b_members[0].user.id;
    let args = CreateRecord {
        slug: slug_b.clone(),
        kind: RecordKind::Deal,
        fields: Fields::from([
            ("stage".into(), text("Won")),
            ("customer_id".into(), Value::Int(customer_b)),
        ]),
    };
    let deal_b = app.run(&b, args).await.expect("deal");

    // 1. Every workspace-scoped server function refuses B's slug.
    let by_slug = [
        ("open_workspace", json!({"slug": slug_b})),
        ("rename_workspace", json!({"slug": slug_b, "name": "x"})),
        ("list_members", json!({"slug": slug_b})),
        (
            "set_member_role",
            json!({"slug": slug_b, "user_id": b_user, "role": "viewer"}),
        ),
        ("remove_member", json!({"slug": slug_b, "user_id": b_user})),
        (
            "create_invite",
            json!({"slug": slug_b, "role": "member", "expires_in_days": 1, "max_uses": 1}),
        ),
        ("list_invites", json!({"slug": slug_b})),
        (
            "revoke_invite",
            json!({"slug": slug_b, "invite_id": b_invite.id}),
        ),
        (
            "list_records",
            json!({"slug": slug_b, "kind": "customer", "query": {}}),
        ),
        (
            "get_record",
            json!({"slug": slug_b, "kind": "customer", "id": customer_b}),
        ),
        (
            "create_record",
            json!({"slug": slug_b, "kind": "customer", "fields": {"name": "x"}}),
        ),
        (
            "update_record",
            json!({"slug": slug_b, "kind": "customer", "id": customer_b, "changes": {}}),
        ),
        (
            "delete_record",
            json!({"slug": slug_b, "kind": "customer", "id": customer_b, "version": 1}),
        ),
        ("list_form_choices", json!({"slug": slug_b})),
        (
            "list_choices",
            json!({"slug": slug_b, "kind": "customer", "search": ""}),
        ),
        ("list_board_totals", json!({"slug": slug_b, "kind": "deal"})),
        ("list_member_choices", json!({"slug": slug_b})),
        (
            "list_field_values",
            json!({"slug": slug_b, "kind": "customer", "field": "sector"}),
        ),
    ];
    for (f, body) in by_slug {
        let e = app
            .call_as::<serde_json::Value>(&a, f, body)
            .await
            .expect_err(f);
        assert!(is_hidden(&e), "{f} with B's slug: {e:?}");
    }
    let products = [("products.csv", "product,series,sales_price\n".to_string())];
    let res = app.upload_import(&a, &slug_b, &products, None, &[]).await;
    assert_eq!(res.status(), 404, "import into B");

    // 2. B's ids used through A's own workspace are not found.
    let by_id = [
        (
            "get_record",
            json!({"slug": slug_a, "kind": "customer", "id": customer_b}),
        ),
        (
            "get_record",
            json!({"slug": slug_a, "kind": "deal", "id": deal_b.id}),
        ),
        (
            "update_record",
            json!({"slug": slug_a, "kind": "customer", "id": customer_b, "changes": {"name": {"base": "Beta Customer", "value": "Mine"}}}),
        ),
        (
            "delete_record",
            json!({"slug": slug_a, "kind": "customer", "id": customer_b, "version": 1}),
        ),
        (
            "set_member_role",
            json!({"slug": slug_a, "user_id": b_user, "role": "viewer"}),
        ),
        ("remove_member", json!({"slug": slug_a, "user_id": b_user})),
        (
            "revoke_invite",
            json!({"slug": slug_a, "invite_id": b_invite.id}),
        ),
    ];
    for (f, body) in by_id {
        let e = app
            .call_as::<serde_json::Value>(&a, f, body)
            .await
            .expect_err(f);
        assert!(matches!(e, AppError::NotFound(_)), "{f} with B's id: {e:?}");
    }

    // 3. A's records cannot point at B's records or members.
    for (field, id) in [("customer_id", customer_b), ("owner_id", b_user)] {
        let args = CreateRecord {
            slug: slug_a.clone(),
            kind: RecordKind::Deal,
            fields: Fields::from([
                ("stage".into(), text("Won")),
                (field.into(), Value::Int(id)),
            ]),
        };
        let e = app.run(&a, args).await.expect_err("foreign ref");
        assert!(matches!(e, AppError::Validation { .. }), "{e:?}");
    }
    let args = update_field(
        &slug_a,
        RecordKind::Customer,
        customer_a,
        "parent_id",
        Value::Null,
        Value::Int(customer_b),
    );
    let e = app.run(&a, args).await.expect_err("foreign parent");
    assert_eq!(e.field(), Some("parent_id"));

    // 4. Lists and pickers in A show only A's data.
    let args = ListRecords {
        slug: slug_a.clone(),
        kind: RecordKind::Customer,
        query: RecordQuery::default(),
    };
    let list = app.run(&a, args).await.expect("list");
    assert_eq!(list.total, 1);
    let people = app
        .run(&a, ListMemberChoices { slug: slug_a })
        .await
        .expect("people");
    assert_eq!(people.len(), 1);
    // And B's data is untouched.
    let args = GetRecord {
        slug: slug_b,
        kind: RecordKind::Customer,
        id: customer_b,
    };
    let still = app.run(&b, args).await.expect("b reads");
    assert_eq!(still.record.version, 1);
}

#[tokio::test]
async fn edits_merge_per_field_and_report_real_conflicts() {
    let app = spawn_app().await;
    let (owner, slug, id) =
        owner_with_customer(&app, "owner@example.com", "Acme", "Acme Corporation").await;
    let other = app
        .member_with_role(&owner, &slug, "member", "m@example.com")
        .await;
    let change = |field: &str, base: Value, value: &str| {
        update_field(&slug, RecordKind::Customer, id, field, base, text(value))
    };

    // Two people edit different fields from the same version: both land.
    app.run(&owner, change("sector", Value::Null, "retail"))
        .await
        .expect("owner edit");
    let merged = app
        .run(&other, change("office_location", Value::Null, "Kenya"))
        .await
        .expect("other edit");
    assert_eq!(merged.get("sector"), &text("retail"));
    assert_eq!(merged.get("office_location"), &text("Kenya"));
    assert_eq!(merged.version, 3);

    // Both set the same value: not a conflict.
    let same = app
        .run(&other, change("sector", Value::Null, "retail"))
        .await
        .expect("same value");
    assert_eq!(same.version, 3, "nothing to apply, no new version");

    // Someone changed the field to something else since: a conflict, nothing applied.
    let e = app
        .run(&other, change("sector", Value::Null, "medical"))
        .await
        .expect_err("conflict");
    match e {
        AppError::Conflict(c) => {
            assert_eq!(c.fields.len(), 1);
            assert_eq!(c.fields[0].theirs, text("retail"));
            assert_eq!(c.fields[0].mine, text("medical"));
            assert_eq!(c.current.version, 3);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Resubmitting against what is stored now applies it.
    let resolved = app
        .run(&other, change("sector", text("retail"), "medical"))
        .await
        .expect("resolved");
    assert_eq!(resolved.get("sector"), &text("medical"));

    // Validation names the field; a deleted record is gone for everyone.
    let e = app
        .run(&owner, change("year_established", Value::Null, "19x6"))
        .await
        .expect_err("bad year");
    assert_eq!(e.field(), Some("year_established"));
    let delete = |version: i64| DeleteRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id,
        version,
    };
    let e = app.run(&owner, delete(1)).await.expect_err("stale delete");
    assert!(matches!(e, AppError::Conflict(_)));
    app.run(&owner, delete(4)).await.expect("delete");
    let args = GetRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id,
    };
    let e = app.run(&other, args).await.expect_err("deleted");
    assert!(
        matches!(&e, AppError::Gone(m) if m.contains("deleted")),
        "{e:?}"
    );
    assert_eq!(e.status(), 410);
    let e = app
        .run(&other, change("sector", text("medical"), "x"))
        .await
        .expect_err("deleted");
    assert!(
        matches!(&e, AppError::Gone(m) if m.contains("deleted")),
        "{e:?}"
    );
}

#[tokio::test]
async fn admin_invites_are_the_owners_and_invites_die_with_their_creators_rights() {
    let app = spawn_app().await;
    let (owner, slug, _) = owner_with_customer(&app, "owner@example.com", "Acme", "X").await;
    let admin = app
        .member_with_role(&owner, &slug, "admin", "admin@example.com")
        .await;
    let args = CreateInvite {
        slug: slug.clone(),
        role: Role::Admin,
        expires_in_days: 7,
        max_uses: 1,
    };
    let e = app
        .run(&admin, args)
        .await
        .expect_err("an admin cannot invite admins");
    assert!(matches!(e, AppError::Forbidden(_)), "{e:?}");
    // The admin's member invite works while they are an admin, and dies with that.
    let token = app.invite_as(&admin, &slug, "member").await;
    let early = client();
    app.sign_up_as(&early, "early@example.com", "Early").await;
    let accept = || AcceptInvite {
        token: token.clone(),
    };
    app.run(&early, accept())
        .await
        .expect("accepted while its creator is an admin");
    let admin_id = user_id(&app, "admin@example.com").await;
    let args = SetMemberRole {
        slug,
        user_id: admin_id,
        role: Role::Member,
    };
    app.run(&owner, args).await.expect("demote");
    let late = client();
    app.sign_up_as(&late, "late@example.com", "Late").await;
    let e = app
        .run(&late, accept())
        .await
        .expect_err("its creator is no longer an admin");
    assert_eq!(e.field(), Some("token"));
    let e = app
        .run(&client(), sign_up("new@example.com", "New", Some(token)))
        .await
        .expect_err("nor by signing up");
    assert_eq!(e.field(), Some("token"));
}

#[tokio::test]
async fn a_claim_link_is_not_an_invite() {
    let app = spawn_app().await;
    let (owner, slug, _) = owner_with_customer(&app, "owner@example.com", "Acme", "X").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws");
    let placeholder = app
        .store
        .upsert_people(
            ws.id,
            vec![app::ssr::store::ImportedPerson {
                key: "Pat Placeholder".into(),
                name: "Pat Placeholder".into(),
                role: app::model::Role::Member,
                region: None,
            }],
        )
        .await
        .expect("import a person")[0]
        .user_id;
    let claim = app
        .store
        .create_invite(NewInvite {
            workspace_id: ws.id,
            token: "claimclaimclaimclaimclaimclaim00".into(),
            role: app::model::Role::Member,
            expires_at: app::model::now_ms() + 86_400_000,
            max_uses: 1,
            created_by: None,
            for_user: Some(placeholder),
        })
        .await
        .expect("claim link");
    let intruder = client();
    app.sign_up_as(&intruder, "intruder@example.com", "Intruder")
        .await;
    let args = AcceptInvite { token: claim.token };
    let e = app
        .run(&intruder, args)
        .await
        .expect_err("a claim link is not an invite");
    assert_eq!(e.field(), Some("token"));
    let args = OpenWorkspace { slug: slug.clone() };
    let e = app.run(&intruder, args).await.expect_err("not a member");
    assert!(is_hidden(&e));
    let invites = app
        .run(&owner, ListInvites { slug })
        .await
        .expect("invites");
    assert_eq!(invites[0].uses, 0, "the claim link is unused");
}

#[tokio::test]
async fn simultaneous_acceptances_use_one_acceptance_each_and_one_wins_a_last_use() {
    let app = spawn_app().await;
    let (owner, slug, _) = owner_with_customer(&app, "owner@example.com", "Acme", "X").await;
    let token = member_invite(&app, &owner, &slug, 1).await;
    let (a, b) = (client(), client());
    app.sign_up_as(&a, "a@example.com", "A").await;
    app.sign_up_as(&b, "b@example.com", "B").await;
    let accept = || AcceptInvite {
        token: token.clone(),
    };
    let (ra, rb) = tokio::join!(app.run(&a, accept()), app.run(&b, accept()));
    assert_eq!(
        [&ra, &rb].iter().filter(|r| r.is_ok()).count(),
        1,
        "one wins: {ra:?} {rb:?}"
    );
    let loser = if ra.is_ok() { rb } else { ra };
    assert_eq!(loser.expect_err("lost").field(), Some("token"));

    // One user accepting twice at once uses one acceptance.
    let token = member_invite(&app, &owner, &slug, 5).await;
    let c = client();
    app.sign_up_as(&c, "c@example.com", "C").await;
    let accept = || AcceptInvite {
        token: token.clone(),
    };
    let (r1, r2) = tokio::join!(app.run(&c, accept()), app.run(&c, accept()));
    assert!(r1.is_ok() && r2.is_ok(), "{r1:?} {r2:?}");
    let invites = app
        .run(&owner, ListInvites { slug: slug.clone() })
        .await
        .expect("invites");
    let used = invites
        .iter()
        .find(|i| i.token == token)
        .expect("the invite")
        .uses;
    assert_eq!(used, 1);
}

#[tokio::test]
async fn concurrent_creates_updates_and_acceptances_never_fail_with_a_database_error() {
    let app = spawn_app().await;
    let (owner, slug, parent) =
        owner_with_customer(&app, "owner@example.com", "Acme", "Parent Co").await;
    let token = member_invite(&app, &owner, &slug, 3).await;
    let mut joiners = Vec::new();
    for i in 0..5 {
        let c = client();
        app.sign_up_as(&c, &format!("joiner{i}@example.com"), "Joiner")
            .await;
        joiners.push(c);
    }
    let creates = (0..20).map(|i| {
        let args = CreateRecord {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            fields: Fields::from([
                ("name".into(), text(&format!("Child {i}"))),
                ("parent_id".into(), Value::Int(parent)),
            ]),
        };
        app.run(&owner, args)
    });
    let updates = (0..20).map(|i| {
        let note = text(&format!("note {i}"));
        let args = update_field(
            &slug,
            RecordKind::Customer,
            parent,
            "notes",
            Value::Null,
            note,
        );
        app.run(&owner, args)
    });
    let accepts = joiners.iter().map(|c| {
        let args = AcceptInvite {
            token: token.clone(),
        };
        app.run(c, args)
    });
    let (creates, updates, accepts) = tokio::join!(
        futures::future::join_all(creates),
        futures::future::join_all(updates),
        futures::future::join_all(accepts),
    );
    fn domain<T>(r: &Result<T, AppError>) -> bool {
        match r {
            Ok(_) => true,
            Err(AppError::Internal | AppError::Request(_)) => false,
            Err(_) => true,
        }
    }
    assert!(creates.iter().all(|r| r.is_ok()), "{creates:?}");
    assert!(updates.iter().all(domain), "{updates:?}");
    assert_eq!(
        updates.iter().filter(|r| r.is_ok()).count(),
        1,
        "one update wins from the same base; the others are conflicts"
    );
    assert!(
        updates
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, AppError::Conflict(_))),
        "{updates:?}"
    );
    assert!(accepts.iter().all(domain), "{accepts:?}");
    assert_eq!(
        accepts.iter().filter(|r| r.is_ok()).count(),
        3,
        "three uses"
    );
}

/// The access cache answers repeated calls without the database, yet a demotion, a
/// removal and a sign-out hold on the very next call, however warm it was.
#[tokio::test]
async fn revoked_access_holds_on_the_next_call_though_the_cache_was_warm() {
    let app = spawn_app().await;
    let (owner, slug, id) = owner_with_customer(&app, "owner@example.com", "Acme", "X").await;
    let bob = app
        .member_with_role(&owner, &slug, "member", "bob@example.com")
        .await;
    let bob_id = user_id(&app, "bob@example.com").await;
    let open = || OpenWorkspace { slug: slug.clone() };
    for _ in 0..2 {
        app.run(&bob, open()).await.expect("a member opens it");
    }
    let v1 = app
        .run(
            &bob,
            update_field(
                &slug,
                RecordKind::Customer,
                id,
                "notes",
                Value::Null,
                text("a"),
            ),
        )
        .await
        .expect("a member edits");

    let demote = SetMemberRole {
        slug: slug.clone(),
        user_id: bob_id,
        role: Role::Viewer,
    };
    app.run(&owner, demote).await.expect("demote");
    let e = app
        .run(
            &bob,
            update_field(
                &slug,
                RecordKind::Customer,
                id,
                "notes",
                text("a"),
                text("b"),
            ),
        )
        .await
        .expect_err("a viewer now");
    assert!(matches!(e, AppError::Forbidden(_)), "{e:?}");
    assert_eq!(v1.version, 2);

    let remove = RemoveMember {
        slug: slug.clone(),
        user_id: bob_id,
    };
    app.run(&owner, remove).await.expect("remove");
    let e = app.run(&bob, open()).await.expect_err("not a member now");
    assert!(matches!(e, AppError::NotFound(_)), "{e:?}");

    // A replayed cookie of a signed-out session is refused at once.
    let (carol, jar) = browser();
    app.sign_up_as(&carol, "carol@example.com", "Carol").await;
    let mine = app.create_workspace_as(&carol, "Carol's").await;
    let url = app.base.parse().expect("url");
    let cookie = jar.cookies(&url).expect("session cookie");
    let replay = || {
        client()
            .post(format!("{}/api/open_workspace", app.base))
            .header("cookie", cookie.clone())
            .header("origin", &app.base)
            .json(&json!({ "slug": mine }))
            .send()
    };
    for _ in 0..2 {
        let r = replay().await.expect("send");
        assert_eq!(r.status(), reqwest::StatusCode::OK, "signed in");
    }
    app.run(&carol, LogOut {}).await.expect("log out");
    let r = replay().await.expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED, "signed out");
}
