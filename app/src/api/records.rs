//! Records of every kind (customers, deals, products) through one set of server
//! functions: list, get, create, update with a three-way merge, delete, and the options
//! that pickers and filters show.

use std::collections::BTreeMap;

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{
    BoardTotal, Choice, FieldChange, Fields, Page, Record, RecordAt, RecordKind, RecordQuery,
};

/// A page of a workspace's live records of `kind` (any member), with the workspace
/// room's position read before the rows (subscribe `since` it to miss nothing).
/// Errors: `Unauthorized`, `NotFound`, `Validation` for an unknown sort or filter field.
#[server(prefix = "/api", endpoint = "list_records", input = Json, output = Json)]
pub async fn list_records(
    slug: String,
    kind: RecordKind,
    query: RecordQuery,
) -> Result<Page<Record>, AppError> {
    use crate::realtime::protocol::Room;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let position = c.store.room_head(Room::Workspace(c.workspace.id)).await?;
    let mut page = c.store.list_records(c.workspace.id, kind, &query).await?;
    page.position = Some(position);
    Ok(page)
}

/// One record (any member), with its room's position read before it (subscribe `since`
/// it to miss nothing). Errors: `Unauthorized`, `NotFound` (also for another
/// workspace's id), `Gone` for a deleted record (saying who deleted it and when).
#[server(prefix = "/api", endpoint = "get_record", input = Json, output = Json)]
pub async fn get_record(slug: String, kind: RecordKind, id: i64) -> Result<RecordAt, AppError> {
    use crate::realtime::protocol::Room;
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let position = c.store.room_head(Room::Record(kind, id)).await?;
    let record = c.store.record(c.workspace.id, kind, id).await?;
    Ok(RecordAt { record, position })
}

/// Creates a record (members and up). Values may be typed or text as typed in a form;
/// a kind whose spec generates its natural key (a deal's opportunity id) gets one when it
/// is left empty.
/// Errors: `Forbidden` for viewers, `Validation` naming the field.
#[server(prefix = "/api", endpoint = "create_record", input = Json, output = Json)]
pub async fn create_record(
    slug: String,
    kind: RecordKind,
    fields: Fields,
) -> Result<Record, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    let mut clean = Fields::new();
    let owner = kind.spec().owner;
    for def in kind.fields() {
        let v = fields.get(def.name).cloned().unwrap_or_default();
        let blank = v.is_null() || v.as_text().is_some_and(|t| t.trim().is_empty());
        if Some(def.name) == owner && def.required && blank {
            continue;
        }
        let v = def
            .normalize(v)
            .map_err(|m| AppError::invalid(def.name, m))?;
        if !v.is_null() {
            clean.insert(def.name.to_string(), v);
        }
    }
    if let Some(unknown) = fields.keys().find(|k| kind.field(k).is_none()) {
        return Err(AppError::invalid(
            unknown.clone(),
            format!("a {} has no field {unknown}", kind.noun()),
        ));
    }
    let spec = kind.spec();
    // A required owner left empty (a meeting's organizer) is the one creating it.
    if let Some(owner) = spec
        .owner
        .and_then(|o| kind.field(o))
        .filter(|d| d.required)
    {
        clean
            .entry(owner.name.to_string())
            .or_insert(crate::model::Value::Int(c.user.id));
    }
    if let (true, Some(key)) = (spec.generated_key, spec.natural_key) {
        if !clean.contains_key(key) {
            let code = crate::ssr::auth::random_token()[..8].to_uppercase();
            clean.insert(key.into(), crate::model::Value::Text(code));
        }
    }
    Ok(c.store
        .create_record(c.workspace.id, c.user.id, kind, clean)
        .await?)
}

/// Changes fields of a record (members and up). Each change carries the value the editor
/// started from; the store merges per field (three-way) and refuses only real conflicts.
///
/// `overwrite` names fields whose value should win over someone else's (explicit last
/// writer wins, which the user confirmed; logged in the change). `idempotency_key` (1 to
/// 100 characters, made by the client per edit) makes a repeat within a day return the
/// first answer and change nothing. Both may be left out of the JSON.
/// Errors: `Forbidden` for viewers, `Validation` naming the field (or `idempotency_key`),
/// `Conflict` with base, mine and theirs (who and when) per field, `NotFound`, `Gone` when
/// deleted (saying who deleted it and when).
#[server(prefix = "/api", endpoint = "update_record", input = Json, output = Json)]
pub async fn update_record(
    slug: String,
    kind: RecordKind,
    id: i64,
    changes: BTreeMap<String, FieldChange>,
    overwrite: Option<Vec<String>>,
    idempotency_key: Option<String>,
) -> Result<Record, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    let mut clean = BTreeMap::new();
    for (name, change) in changes {
        let def = kind.field(&name).ok_or_else(|| {
            AppError::invalid(
                name.clone(),
                format!("a {} has no field {name}", kind.noun()),
            )
        })?;
        let value = def
            .normalize(change.value)
            .map_err(|m| AppError::invalid(def.name, m))?;
        // The base is what the editor saw; if it does not parse it is compared as sent.
        let base = def.normalize(change.base.clone()).unwrap_or(change.base);
        clean.insert(name, FieldChange { base, value });
    }
    let overwrite: std::collections::BTreeSet<String> =
        overwrite.unwrap_or_default().into_iter().collect();
    if let Some(name) = overwrite.iter().find(|n| !clean.contains_key(*n)) {
        return Err(AppError::invalid(
            name.clone(),
            format!("{name} is overwritten but not changed"),
        ));
    }
    if idempotency_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > 100)
    {
        return Err(AppError::invalid(
            "idempotency_key",
            "an idempotency key is 1 to 100 characters",
        ));
    }
    let options = crate::ssr::store::UpdateOptions {
        overwrite,
        idempotency_key,
    };
    Ok(c.store
        .update_record_with(c.workspace.id, c.user.id, kind, id, clean, options)
        .await?)
}

/// Brings a deleted record back (admins and the owner), logged as a `restored` change in
/// the workspace's and the record's rooms. Errors: `Forbidden` below admin, `NotFound`,
/// `Validation` on `record` when it is not deleted.
#[server(prefix = "/api", endpoint = "restore_record", input = Json, output = Json)]
pub async fn restore_record(slug: String, kind: RecordKind, id: i64) -> Result<Record, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Admin).await?;
    Ok(c.store
        .restore_record(c.workspace.id, c.user.id, kind, id)
        .await?)
}

/// Deletes (tombstones) a record that is still at `version` (members and up).
/// Errors: `Forbidden`, `NotFound`, `Gone` when it is deleted already, `Conflict` when
/// it changed since `version`.
#[server(prefix = "/api", endpoint = "delete_record", input = Json, output = Json)]
pub async fn delete_record(
    slug: String,
    kind: RecordKind,
    id: i64,
    version: i64,
) -> Result<(), AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Member).await?;
    Ok(c.store
        .delete_record(c.workspace.id, c.user.id, kind, id, version)
        .await?)
}

/// The options of the member pickers of a form: the workspace's members by name.
/// Reference pickers ask [`list_choices`] as people type instead (a workspace may hold a
/// hundred thousand customers).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FormChoices {
    /// The workspace's members as (user id, name), by name.
    pub members: Vec<Choice>,
}

/// What the pickers of a form offer up front, in one call (any member).
#[server(prefix = "/api", endpoint = "list_form_choices", input = Json, output = Json)]
pub async fn list_form_choices(slug: String) -> Result<FormChoices, AppError> {
    Ok(FormChoices {
        members: list_member_choices(slug).await?,
    })
}

/// How many options a reference picker's typeahead shows.
pub const CHOICES_SHOWN: i64 = 20;

/// A reference picker's typeahead: live records of `kind` whose title contains `search`
/// (case-insensitively), by title, at most [`CHOICES_SHOWN`] (any member).
#[server(prefix = "/api", endpoint = "list_choices", input = Json, output = Json)]
pub async fn list_choices(
    slug: String,
    kind: RecordKind,
    search: String,
) -> Result<Vec<Choice>, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store
        .choices(c.workspace.id, kind, &search, CHOICES_SHOWN)
        .await?)
}

/// Options for a member picker: every member by name (any member).
#[server(prefix = "/api", endpoint = "list_member_choices", input = Json, output = Json)]
pub async fn list_member_choices(slug: String) -> Result<Vec<Choice>, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    let members = c.store.members(c.workspace.id).await?;
    Ok(members
        .into_iter()
        .map(|m| Choice {
            id: m.user.id,
            title: m.user.display_name,
        })
        .collect())
}

/// The columns of a kind's board with each one's count and amount over all its live
/// records, kept by the database (any member). Errors: `Validation` for a kind without a
/// board.
#[server(prefix = "/api", endpoint = "list_board_totals", input = Json, output = Json)]
pub async fn list_board_totals(
    slug: String,
    kind: RecordKind,
) -> Result<Vec<BoardTotal>, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store.board_totals(c.workspace.id, kind).await?)
}

/// Distinct values of a text field, for a filter (any member).
/// Errors: `Validation` on `field` when it is not a text field of the kind.
#[server(prefix = "/api", endpoint = "list_field_values", input = Json, output = Json)]
pub async fn list_field_values(
    slug: String,
    kind: RecordKind,
    field: String,
) -> Result<Vec<String>, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Viewer).await?;
    Ok(c.store
        .distinct_values(c.workspace.id, kind, &field)
        .await?)
}
