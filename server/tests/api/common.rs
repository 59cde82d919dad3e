//! Test helpers: `spawn_app()` runs the real router on `127.0.0.1:0` against a fresh
//! database (SQLite in a temporary folder, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` is set) and returns a cookie-keeping client for it.

use std::net::SocketAddr;
use std::sync::Arc;

use app::error::AppError;
use app::ssr::Store;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The arguments of `/api/sign_up` for `email` (password `password123`) named `name`,
/// through the invite `token` if given.
pub fn sign_up(email: &str, name: &str, invite: Option<String>) -> app::api::auth::SignUp {
    app::api::auth::SignUp {
        email: email.into(),
        password: "password123".into(),
        display_name: name.into(),
        invite,
    }
}

/// The arguments of `/api/update_record` changing one `field` of the `kind` record `id`
/// in `slug` from `base` (the value the editor saw) to `value`.
pub fn update_field(
    slug: &str,
    kind: app::model::RecordKind,
    id: i64,
    field: &str,
    base: app::model::Value,
    value: app::model::Value,
) -> app::api::records::UpdateRecord {
    app::api::records::UpdateRecord {
        slug: slug.into(),
        kind,
        id,
        changes: [(field.to_string(), app::model::FieldChange { base, value })].into(),
        overwrite: None,
        idempotency_key: None,
    }
}

/// An owner with workspace "acme" holding one customer; returns (owner, slug, customer id).
pub async fn owner_with_customer(
    app: &TestApp,
    email: &str,
    ws: &str,
    customer: &str,
) -> (reqwest::Client, String, i64) {
    let c = client();
    app.sign_up_as(&c, email, email).await;
    let slug = app.create_workspace_as(&c, ws).await;
    let args = app::api::records::CreateRecord {
        slug: slug.clone(),
        kind: app::model::RecordKind::Customer,
        fields: app::model::Fields::from([(
            "name".into(),
            app::model::Value::Text(customer.into()),
        )]),
    };
    let r = app.run(&c, args).await.expect("create customer");
    (c, slug, r.id)
}

/// Whether a server function's protocol takes an HTML form's encoding (`PostUrl`) or
/// JSON, known from its type.
pub trait InputEncoding {
    /// `true` for `application/x-www-form-urlencoded`.
    const FORM: bool;
}

impl<O> InputEncoding for leptos::server_fn::Http<app::api::codec::Json, O> {
    const FORM: bool = false;
}

impl<O> InputEncoding for leptos::server_fn::Http<leptos::server_fn::codec::PostUrl, O> {
    const FORM: bool = true;
}

/// `body`'s top-level fields as form fields (strings as they are, other scalars as
/// JSON text, nulls left out, as an absent form field). Panics on a nested value: a form
/// endpoint's arguments are flat.
fn form_fields(name: &str, body: &Value) -> Vec<(String, String)> {
    let fields = body
        .as_object()
        .unwrap_or_else(|| panic!("{name}: form body must be an object"));
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => panic!("{name}: form field {k} must be a scalar"),
            };
            (k.clone(), text)
        })
        .collect()
}

/// A running app and a client with its own cookie jar.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// A client that keeps cookies (one "browser").
    pub client: reqwest::Client,
    /// The app's store, for arranging data directly.
    pub store: Arc<dyn Store>,
    /// The realtime hub.
    pub hub: Arc<server::realtime::Hub>,
    /// The rate limits and hashing queue.
    pub limits: Arc<app::ssr::auth::Limits>,
    /// The database URL the app uses.
    pub database_url: String,
    _dir: tempfile::TempDir,
}

/// A fresh database URL: SQLite in `dir`, or a new database on the PostgreSQL server of
/// `TEST_DATABASE_URL`.
pub async fn fresh_database_url(dir: &tempfile::TempDir) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            use sqlx::Connection;
            let name = format!("tandem_test_{}", rand::random::<u64>());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("TEST_DATABASE_URL reachable");
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            let (prefix, _) = admin.rsplit_once('/').expect("URL has a database name");
            format!("{prefix}/{name}")
        }
        _ => format!("sqlite://{}/tandem.db", dir.path().display()),
    }
}

/// Starts the app on a free port of 127.0.0.1 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(server::realtime::HubConfig::default()).await
}

/// Starts the app with the realtime hub configured as given.
pub async fn spawn_app_with(hub: server::realtime::HubConfig) -> TestApp {
    spawn_app_with_settings(server::state::Settings {
        hub,
        ..test_settings()
    })
    .await
}

/// The settings tests run with: the defaults, but with room for the many sign-ups and
/// writes a test makes from one address.
pub fn test_settings() -> server::state::Settings {
    let mut settings = server::state::Settings::default();
    settings.limits.signups_per_ip_per_minute = 1_000;
    settings.limits.writes_per_user_per_second = 1_000;
    settings.limits.calls_per_user_per_second = 100_000;
    settings.limits.connects_per_user_per_minute = 100_000;
    settings
}

/// Starts the app with the given settings.
pub async fn spawn_app_with_settings(settings: server::state::Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database_url(&dir).await;
    let (addr, state) = server::spawn_local(&database_url, settings)
        .await
        .expect("app started");
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: client(),
        store: state.db.store.clone(),
        hub: state.hub.clone(),
        limits: state.ctx.limits.clone(),
        database_url,
        _dir: dir,
    }
}

impl TestApp {
    /// Another node on this app's database (its data stays in this app's folder, which
    /// must outlive it), started with `settings`: a restart, or a second node.
    pub async fn another_node(&self, settings: server::state::Settings) -> TestApp {
        let (addr, state) = server::spawn_local(&self.database_url, settings)
            .await
            .expect("node started");
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: client(),
            store: state.db.store.clone(),
            hub: state.hub.clone(),
            limits: state.ctx.limits.clone(),
            database_url: self.database_url.clone(),
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

/// A new cookie-keeping client (another browser).
pub fn client() -> reqwest::Client {
    browser().0
}

/// A new cookie-keeping client and its cookie jar (to hand the session to a WebSocket).
pub fn browser() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .expect("client");
    (client, jar)
}

impl TestApp {
    /// The changes logged in customer `id`'s room, oldest first (its whole log).
    pub async fn customer_log(&self, id: i64) -> Vec<app::realtime::protocol::Change> {
        let room = app::realtime::protocol::Room::Record(app::model::RecordKind::Customer, id);
        let head = self.store.room_head(room).await.expect("head");
        let logged = self
            .store
            .room_changes(room, head.epoch, 0, head.offset, 1_000_000)
            .await
            .expect("log");
        logged.into_iter().map(|l| l.change).collect()
    }

    /// Calls server function `/api/{name}` as `client` with `body`'s fields: as JSON, or
    /// as an HTML form would post them for the [`app::api::FORM_ENDPOINTS`].
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        name: &str,
        body: Value,
    ) -> Result<T, AppError> {
        let req = client.post(format!("{}/api/{name}", self.base));
        let req = if app::api::FORM_ENDPOINTS.contains(&name) {
            req.form(&form_fields(name, &body))
        } else {
            req.json(&body)
        };
        let res = req.send().await.expect("request");
        let status = res.status();
        let bytes = res.bytes().await.expect("body");
        if status.is_success() {
            Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{name}: bad answer {e}: {}",
                    String::from_utf8_lossy(&bytes)
                )
            }))
        } else {
            Err(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{name}: bad error {status} {e}: {}",
                    String::from_utf8_lossy(&bytes)
                )
            }))
        }
    }

    /// Calls a server function as `client`, typed by its own argument struct (the one
    /// `#[server]` makes, e.g. `CreateWorkspace { name, slug }`): its endpoint and its
    /// answer's type come from the function, so a test cannot call it with the wrong
    /// shape. Errors: the function's [`AppError`].
    /// It also checks that [`app::api::FORM_ENDPOINTS`] lists the function exactly when
    /// its input encoding is the form one, so that list cannot drift from the code.
    pub async fn run<F>(&self, client: &reqwest::Client, args: F) -> Result<F::Output, AppError>
    where
        F: leptos::server_fn::ServerFn + serde::Serialize,
        F::Protocol: InputEncoding,
        F::Output: DeserializeOwned,
    {
        let name = F::PATH.trim_start_matches("/api/");
        assert_eq!(
            F::Protocol::FORM,
            app::api::FORM_ENDPOINTS.contains(&name),
            "{name}: FORM_ENDPOINTS disagrees with its input encoding"
        );
        let body = serde_json::to_value(args).expect("arguments serialize");
        self.call_as(client, name, body).await
    }

    /// Signs up `email` (password `password123`) as `client` and returns the user id.
    pub async fn sign_up_as(&self, client: &reqwest::Client, email: &str, name: &str) -> i64 {
        let args = sign_up(email, name, None);
        self.run(client, args).await.expect("sign up").user.id
    }

    /// Posts an upload to the import route (`/api/import_crm?workspace={slug}`) as
    /// `client`: the files (name, text), the `mapping` part if given (its JSON text), and
    /// any extra headers (`accept`, `accept-encoding`). Returns the response as it is.
    pub async fn upload_import(
        &self,
        client: &reqwest::Client,
        slug: &str,
        files: &[(&str, String)],
        mapping: Option<String>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        if let Some(m) = mapping {
            form = form.part("mapping", reqwest::multipart::Part::text(m));
        }
        for (name, text) in files {
            let part = reqwest::multipart::Part::text(text.clone()).file_name(name.to_string());
            form = form.part("files", part);
        }
        let mut req = client.post(format!("{}/api/import_crm?workspace={slug}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.multipart(form).send().await.expect("upload")
    }

    /// Creates a workspace as `client` and returns its slug.
    pub async fn create_workspace_as(&self, client: &reqwest::Client, name: &str) -> String {
        let args = app::api::workspaces::CreateWorkspace {
            name: name.into(),
            slug: None,
        };
        self.run(client, args).await.expect("create workspace").slug
    }

    /// Makes an invite link for `role` in `slug` as `client` (an admin) and returns its token.
    pub async fn invite_as(&self, client: &reqwest::Client, slug: &str, role: &str) -> String {
        let args = app::api::members::CreateInvite {
            slug: slug.into(),
            role: serde_json::from_value(json!(role)).expect("a role"),
            expires_in_days: 7,
            max_uses: 5,
        };
        self.run(client, args).await.expect("create invite").token
    }

    /// A new browser signed up through an invite of `role` to `slug` made by `admin`.
    pub async fn member_with_role(
        &self,
        admin: &reqwest::Client,
        slug: &str,
        role: &str,
        email: &str,
    ) -> reqwest::Client {
        let token = self.invite_as(admin, slug, role).await;
        let c = client();
        self.run(&c, sign_up(email, email, Some(token)))
            .await
            .expect("sign up through invite");
        c
    }
}
