//! Rows to domain types: the columns each query selects and how a row becomes a record,
//! user, workspace, role or invite.

use super::*;

pub(super) const RECORD_BASE_COLUMNS: &str =
    "id, workspace_id, version, created_at, created_by, updated_at, updated_by, deleted_at, deleted_by";

pub(super) fn record_columns(kind: RecordKind) -> String {
    let mut cols = RECORD_BASE_COLUMNS.to_string();
    for f in kind.fields() {
        cols.push_str(", ");
        cols.push_str(f.name);
    }
    cols
}

pub(super) fn record_from_row(kind: RecordKind, row: &AnyRow) -> Result<Record, sqlx::Error> {
    let mut fields = Fields::new();
    for def in kind.fields() {
        let v = match def.storage() {
            Storage::Text => row.try_get::<Option<String>, _>(def.name)?.map(Value::Text),
            Storage::Int => row.try_get::<Option<i64>, _>(def.name)?.map(Value::Int),
            Storage::Float => row.try_get::<Option<f64>, _>(def.name)?.map(Value::Float),
        };
        if let Some(v) = v {
            fields.insert(def.name.to_string(), v);
        }
    }
    Ok(Record {
        kind,
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        version: row.try_get("version")?,
        fields,
        titles: BTreeMap::new(),
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        deleted_at: row.try_get("deleted_at")?,
        deleted_by: row.try_get("deleted_by")?,
    })
}

pub(super) const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.last_workspace_id";

pub(super) fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    Ok(User {
        id,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        color: avatar_color(id),
        last_workspace_id: row.try_get("last_workspace_id")?,
    })
}

pub(super) fn workspace_from_row(row: &AnyRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
    })
}

pub(super) fn role_from(s: &str) -> Result<Role, sqlx::Error> {
    Role::parse(s).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {s:?}").into()))
}

pub(super) const INVITE_SELECT: &str =
    "SELECT i.id, i.workspace_id, i.token, i.role, i.expires_at, i.max_uses, \
     i.uses, i.revoked_at, i.for_user, u.display_name AS for_name \
     FROM invites i LEFT JOIN users u ON u.id = i.for_user";

pub(super) fn invite_from_row(row: &AnyRow) -> Result<Invite, sqlx::Error> {
    Ok(Invite {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        token: row.try_get("token")?,
        role: role_from(&row.try_get::<String, _>("role")?)?,
        expires_at: row.try_get("expires_at")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        revoked_at: row.try_get("revoked_at")?,
        for_user: row.try_get("for_user")?,
        for_name: row.try_get("for_name")?,
    })
}
