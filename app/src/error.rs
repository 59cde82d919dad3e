//! The error every server function returns, serializable so the browser can show why a
//! call failed and which field was wrong.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::api::codec::JsonText;
use crate::model::{Record, Value};
use crate::realtime::tag_first::tag_first_enum;

tag_first_enum! {
tag = "error", content = "detail", rename_all = "snake_case";
/// Why a server function failed. Internal causes are logged on the server and reach the
/// client only as [`AppError::Internal`].
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist, or is not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// The record was deleted (it is a tombstone): the sentence says who deleted it and
    /// when ("Ada deleted this record at 2026-12-06 10:04 UTC"). Admins may restore it.
    #[error("{0}")]
    Gone(String),
    /// The caller is not signed in.
    #[error("please sign in first")]
    Unauthorized,
    /// The caller is signed in but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// An input was refused; `field` names it.
    #[error("{message}")]
    Validation {
        /// The input's name (`email`, `name`, a record field).
        field: String,
        /// What is wrong, for people.
        message: String,
    },
    /// An edit collided with someone else's change to the same field.
    #[error("{}", .0.message)]
    Conflict(Box<EditConflict>),
    /// Too many attempts; try again after `retry_after_secs` seconds.
    #[error("too many attempts, try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Something failed on the server; its cause is in the server's log.
    #[error("something went wrong on the server")]
    Internal,
    /// The request itself failed (network, encoding): from the server-function machinery.
    #[error("request failed: {0}")]
    Request(String),
}
}

/// The details of an edit conflict: for each conflicted field what the editor started
/// from, what they wanted and what is stored now, plus the record as it is now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditConflict {
    /// A sentence for people ("Anna changed Name while you were editing").
    pub message: String,
    /// The record as stored now (its `version` is the one to resubmit against).
    pub current: Record,
    /// The fields in conflict.
    pub fields: Vec<FieldConflict>,
}

/// One conflicted field of an [`EditConflict`] (three-way: base, mine, theirs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// Field name.
    pub field: String,
    /// The value both sides started from.
    pub base: Value,
    /// The value this editor wanted.
    pub mine: Value,
    /// The value someone else stored meanwhile.
    pub theirs: Value,
    /// Who stored `theirs` (the last change of the field in the record's log), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<i64>,
    /// Their display name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_name: Option<String>,
    /// When they stored it, Unix milliseconds, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

impl AppError {
    /// A validation error for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with, so other clients, proxies and
    /// monitoring tell a refusal from a failure: 401 signed out, 403 forbidden, 404 not
    /// found, 410 deleted, 409 conflict, 422 validation, 429 rate limited, 400 a
    /// malformed request, 500 only for internal errors.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::Gone(_) => 410,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::Validation { .. } => 422,
            AppError::Conflict(_) => 409,
            AppError::RateLimited { .. } => 429,
            AppError::Request(_) => 400,
            AppError::Internal => 500,
        }
    }

    /// The field a validation error names, if this is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Validation { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

/// Result of a server function.
pub type AppResult<T> = Result<T, AppError>;
