//! The JSON codec of every server function: server_fn's JSON, decoded from text so the
//! browser carries one JSON parser per type instead of two.
//!
//! server_fn's own `Json` decodes a response with `serde_json::from_slice`, while a
//! resource's server-rendered value is decoded with `serde_json::from_str`; each
//! instantiates every response type's deserializer again (about 50 KB of the first
//! page's WASM). Decoding responses from text as well leaves one.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// JSON (`application/json`, UTF-8), encoded with `serde_json::to_vec` and decoded with
/// `serde_json::from_str`. Errors: the body is not UTF-8 or not the expected JSON.
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A server function's JSON body in a `POST`, as `input = Json` or `output = Json`.
pub type Json = Post<JsonText>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    #[test]
    fn a_value_and_an_error_come_back_as_they_went_and_bad_bytes_are_refused() {
        let error = AppError::Validation {
            field: "email".into(),
            message: "not an e-mail address".into(),
        };
        let bytes = <JsonText as Encodes<AppError>>::encode(&error).unwrap();
        assert_eq!(
            <JsonText as Decodes<AppError>>::decode(bytes).unwrap(),
            error
        );
        let bad = Bytes::from_static(b"\"\xff\"");
        assert!(<JsonText as Decodes<String>>::decode(bad).is_err());
    }
}
