//! Import settings: the column mapping a workspace's imports use (the import itself is
//! the upload route `POST /api/import_crm`, as a file upload does not fit a JSON server
//! function).

use super::codec::Json;
use leptos::prelude::*;

use crate::error::AppError;
use crate::model::import::ImportMapping;

/// The workspace's saved column mapping (empty when none was saved) (admins).
/// Errors: `Unauthorized`, `NotFound`, `Forbidden`.
#[server(prefix = "/api", endpoint = "get_import_mapping", input = Json, output = Json)]
pub async fn get_import_mapping(slug: String) -> Result<ImportMapping, AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Admin).await?;
    Ok(c.store.import_mapping(c.workspace.id).await?)
}

/// Saves the workspace's column mapping, which later imports (uploads) use (admins).
/// Errors: `Unauthorized`, `NotFound`, `Forbidden`; `Validation` on `mapping` when it
/// names a file or column the importer does not read.
#[server(prefix = "/api", endpoint = "save_import_mapping", input = Json, output = Json)]
pub async fn save_import_mapping(slug: String, mapping: ImportMapping) -> Result<(), AppError> {
    let c = crate::ssr::require_member(&slug, crate::model::Role::Admin).await?;
    mapping
        .check()
        .map_err(|m| AppError::invalid("mapping", m))?;
    Ok(c.store
        .save_import_mapping(c.workspace.id, &mapping)
        .await?)
}
