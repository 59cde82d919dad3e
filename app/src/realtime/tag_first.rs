//! Internally tagged enums (`{"type": "event", ...}`) decoded without serde's buffering:
//! serde's own `#[serde(tag = ...)]` decoding copies every object into an intermediate
//! `Content` tree before it knows the variant, and so compiles each variant's decoding
//! twice, once for JSON and once for that tree (the `Change` enum's alone was 46 KB of
//! the browser's first page). The enums here are only ever read from what serde wrote,
//! which puts the tag first, so their decoding reads the tag, then the variant's fields
//! straight from the rest of the same object (or, adjacently tagged, from the value of
//! the content key that follows the tag).

use serde::de::{Error, MapAccess, Visitor};

/// Reads an object's next key and checks that it is `key`, which must come `place` ("first",
/// "after the tag"). Errors: the object has no more keys (`key` is missing) or another
/// key comes there (the message says where `key` must be).
pub fn expect_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &'static str,
    place: &'static str,
) -> Result<(), A::Error> {
    struct Key(&'static str);

    impl<'de> serde::de::DeserializeSeed<'de> for Key {
        type Value = bool;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a key")
        }

        fn visit_str<E>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }

    match map.next_key_seed(Key(key))? {
        Some(true) => Ok(()),
        Some(false) => Err(A::Error::custom(format_args!(
            "\"{key}\" must come {place} in the object"
        ))),
        None => Err(A::Error::missing_field(key)),
    }
}

/// Reads and drops what is left of an object (keys serde would ignore too).
pub fn skip_rest<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    use serde::de::IgnoredAny;
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Declares an enum of struct and unit variants that serde serializes internally tagged
/// (`#[serde(tag = $tag, rename_all = $case)]`, added here) and that deserializes with
/// the tag as the object's first key, as serde writes it: the tag picks the variant, whose
/// fields (with their own `#[serde(...)]` attributes) are read from the rest of the
/// object. Unknown fields are ignored, as serde's derive does. Derive `Serialize` (not
/// `Deserialize`) on the enum as usual. A variant's tag is its name in `$case` (variants'
/// own `#[serde(rename)]` is not supported; their other attributes, docs or
/// `thiserror`'s, stay on the enum).
///
/// The second form, `tag = ..., content = ..., rename_all = ...;`, declares an adjacently
/// tagged enum (`{"error": "not_found", "detail": "..."}`) whose variants may also be
/// newtypes: the tag comes first, then the content key with the variant's value (none for
/// a unit variant).
///
/// ```text
/// tag_first_enum! {
///     tag = "op", rename_all = "snake_case";
///     /// A change.
///     #[derive(Clone, Debug, Serialize)]
///     pub enum Change {
///         /// A record was created.
///         Created { record: Record, at: i64 },
///         Cleared,
///     }
/// }
/// ```
macro_rules! tag_first_enum {
    (
        tag = $tag:literal, content = $content:literal, rename_all = $case:literal;
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(( $nty:ty ))? $({
                    $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[serde(tag = $tag, content = $content, rename_all = $case)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant $(($nty))? $({ $( $(#[$fmeta])* $field: $fty ),* })?
            ),*
        }

        $crate::realtime::tag_first::tag_first_deserialize!(
            $name, $tag, $case, [$($variant),*], |map, tag| {
                let value = match tag {
                    $(
                        __Tag::$variant => $crate::realtime::tag_first::tag_first_variant!(
                            map, $content, $name,
                            $variant $(($nty))? $({ $( $(#[$fmeta])* $field: $fty ),* })?
                        ),
                    )*
                };
                $crate::realtime::tag_first::skip_rest(&mut map)?;
                Ok(value)
            }
        );
    };
    (
        tag = $tag:literal, rename_all = $case:literal;
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $({
                    $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[serde(tag = $tag, rename_all = $case)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant $({ $( $(#[$fmeta])* $field: $fty ),* })?
            ),*
        }

        $crate::realtime::tag_first::tag_first_deserialize!(
            $name, $tag, $case, [$($variant),*], |map, tag| {
                let rest = serde::de::value::MapAccessDeserializer::new(map);
                match tag {
                    $(
                        __Tag::$variant => {
                            #[derive(serde::Deserialize)]
                            struct __VariantFields {
                                $($( $(#[$fmeta])* $field: $fty ),*)?
                            }
                            let _fields =
                                <__VariantFields as serde::Deserialize>::deserialize(rest)?;
                            Ok($name::$variant { $($( $field: _fields.$field ),*)? })
                        }
                    )*
                }
            }
        );
    };
}

pub(crate) use tag_first_enum;

/// The `Deserialize` both forms of [`tag_first_enum!`] share: `$name` reads from an object
/// whose first key is `$tag`, whose value (a `__Tag`, the variants named in `$case`) is
/// bound to `$which`; `$read` then makes the value from the rest of `$map`, the
/// object's `MapAccess`.
macro_rules! tag_first_deserialize {
    (
        $name:ident, $tag:literal, $case:literal, [$($variant:ident),*],
        |$map:ident, $which:ident| $read:block
    ) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                /// The variants, named as the tag spells them.
                #[derive(serde::Deserialize)]
                #[serde(rename_all = $case)]
                enum __Tag {
                    $( $variant ),*
                }

                struct __Visitor;

                impl<'de> serde::de::Visitor<'de> for __Visitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        write!(f, "an object whose first key is \"{}\"", $tag)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<$name, A::Error> {
                        $crate::realtime::tag_first::expect_key(&mut $map, $tag, "first")?;
                        let $which: __Tag = serde::de::MapAccess::next_value(&mut $map)?;
                        $read
                    }
                }

                deserializer.deserialize_map(__Visitor)
            }
        }
    };
}

pub(crate) use tag_first_deserialize;

/// One variant's value of an adjacently tagged [`tag_first_enum!`], read from `$map` after
/// its tag: nothing for a unit variant, else the `$content` key's value.
macro_rules! tag_first_variant {
    ($map:ident, $content:literal, $name:ident, $variant:ident) => {
        $name::$variant
    };
    ($map:ident, $content:literal, $name:ident, $variant:ident ($nty:ty)) => {{
        $crate::realtime::tag_first::expect_key(&mut $map, $content, "after the tag")?;
        $name::$variant(serde::de::MapAccess::next_value::<$nty>(&mut $map)?)
    }};
    (
        $map:ident, $content:literal, $name:ident,
        $variant:ident { $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* }
    ) => {{
        #[derive(serde::Deserialize)]
        struct __VariantFields {
            $( $(#[$fmeta])* $field: $fty ),*
        }
        $crate::realtime::tag_first::expect_key(&mut $map, $content, "after the tag")?;
        let _fields = serde::de::MapAccess::next_value::<__VariantFields>(&mut $map)?;
        $name::$variant { $( $field: _fields.$field ),* }
    }};
}

pub(crate) use tag_first_variant;

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::realtime::protocol::{Change, Position, Room, ServerFrame};

    tag_first_enum! {
        tag = "kind", rename_all = "snake_case";
        /// A shape, for the tests.
        #[derive(Debug, PartialEq, Serialize)]
        enum Shape {
            /// Round.
            Circle {
                /// Its radius.
                radius: i64,
                /// An optional label.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                label: Option<String>,
            },
            /// Square, once spelled `side`.
            BigSquare {
                /// Its edge.
                #[serde(alias = "side")]
                edge: i64,
            },
            /// Nothing.
            Empty,
        }
    }

    tag_first_enum! {
        tag = "error", content = "detail", rename_all = "snake_case";
        /// An outcome, for the tests: adjacently tagged.
        #[derive(Debug, PartialEq, Serialize)]
        enum Outcome {
            /// Nothing to say.
            Fine,
            /// Refused, with a sentence.
            Refused(String),
            /// A field was wrong.
            Invalid {
                /// Which.
                field: String,
                /// Why, if known.
                #[serde(default)]
                why: Option<String>,
            },
        }
    }

    fn outcome(json: &str) -> Result<Outcome, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn adjacently_tagged_variants_read_back_and_refuse_with_a_reason() {
        let all = vec![
            Outcome::Fine,
            Outcome::Refused("no".into()),
            Outcome::Invalid {
                field: "email".into(),
                why: Some("taken".into()),
            },
        ];
        let text = serde_json::to_string(&all).expect("serializes");
        assert!(
            text.starts_with(r#"[{"error":"fine"},{"error":"refused","detail":"no"}"#),
            "{text}"
        );
        let back: Vec<Outcome> = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, all);
        assert_eq!(
            outcome(r#"{"error":"invalid","detail":{"field":"name"},"trace":1}"#),
            Ok(Outcome::Invalid {
                field: "name".into(),
                why: None
            })
        );
        assert_eq!(
            outcome(r#"{"error":"fine","detail":null}"#),
            Ok(Outcome::Fine)
        );
        let refused = |json: &str, why: &str| {
            let err = outcome(json).expect_err(json);
            assert!(err.contains(why), "{json}: {err}");
        };
        refused(
            r#"{"detail":"no","error":"refused"}"#,
            "\"error\" must come first in the object",
        );
        refused(r#"{"error":"refused"}"#, "missing field `detail`");
        refused(
            r#"{"error":"refused","reason":"no"}"#,
            "\"detail\" must come after the tag in the object",
        );
        refused(r#"{"error":"refused","detail":7}"#, "invalid type: integer");
    }

    #[test]
    fn app_errors_read_back_what_the_server_wrote() {
        use crate::error::AppError;
        use crate::error::{EditConflict, FieldConflict};
        use crate::model::{Record, Value};
        let conflict = EditConflict {
            message: "Anna changed Name while you were editing".into(),
            current: Record {
                kind: crate::model::RecordKind::Customer,
                id: 4,
                workspace_id: 1,
                version: 2,
                fields: Default::default(),
                titles: Default::default(),
                created_at: 1,
                created_by: None,
                updated_at: 1,
                updated_by: None,
                deleted_at: None,
                deleted_by: None,
            },
            fields: vec![FieldConflict {
                field: "name".into(),
                base: Value::Text("Acme".into()),
                mine: Value::Text("Acme Ltd".into()),
                theirs: Value::Null,
                by: Some(2),
                by_name: Some("Anna".into()),
                at: None,
            }],
        };
        // Every variant: a variant whose spelling on the wire differed from its decoding
        // would fail here.
        let all = [
            AppError::NotFound("no such deal".into()),
            AppError::Gone("Ada deleted this record".into()),
            AppError::Unauthorized,
            AppError::Forbidden("viewers can look".into()),
            AppError::invalid("email", "already taken"),
            AppError::Conflict(Box::new(conflict)),
            AppError::RateLimited {
                retry_after_secs: 3,
            },
            AppError::Internal,
            AppError::Request("offline".into()),
        ];
        // Fails to compile when a variant is added, so it is added above too.
        for error in &all {
            match error {
                AppError::NotFound(_)
                | AppError::Gone(_)
                | AppError::Unauthorized
                | AppError::Forbidden(_)
                | AppError::Validation { .. }
                | AppError::Conflict(_)
                | AppError::RateLimited { .. }
                | AppError::Internal
                | AppError::Request(_) => {}
            }
        }
        for error in all {
            let text = serde_json::to_string(&error).expect("serializes");
            let back: AppError = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, error, "{text}");
        }
    }

    fn decode(json: &str) -> Result<Shape, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn every_variant_reads_back_what_serde_wrote() {
        let shapes = vec![
            Shape::Circle {
                radius: 2,
                label: Some("a".into()),
            },
            Shape::Circle {
                radius: 3,
                label: None,
            },
            Shape::BigSquare { edge: 4 },
            Shape::Empty,
        ];
        let text = serde_json::to_string(&shapes).expect("serializes");
        assert!(
            text.starts_with(r#"[{"kind":"circle","#),
            "serde writes the tag first: {text}"
        );
        let back: Vec<Shape> = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, shapes);
    }

    #[test]
    fn fields_keep_their_attributes_and_unknown_ones_are_ignored() {
        assert_eq!(
            decode(r#"{"kind":"big_square","side":3,"colour":"red"}"#),
            Ok(Shape::BigSquare { edge: 3 })
        );
        assert_eq!(
            decode(r#"{"kind":"circle","radius":1}"#),
            Ok(Shape::Circle {
                radius: 1,
                label: None
            })
        );
        assert_eq!(decode(r#"{"kind":"empty","radius":1}"#), Ok(Shape::Empty));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let refused = |json: &str, why: &str| {
            let err = decode(json).expect_err(json);
            assert!(err.contains(why), "{json}: {err}");
        };
        refused(
            r#"{"radius":1,"kind":"circle"}"#,
            "\"kind\" must come first in the object",
        );
        refused("{}", "missing field `kind`");
        refused(r#"{"kind":"triangle"}"#, "unknown variant `triangle`");
        refused(r#"{"kind":"circle"}"#, "missing field `radius`");
        refused(r#"{"kind":"circle","radius":"big"}"#, "invalid type");
        refused(r#"["circle",1]"#, "invalid type: sequence");
    }

    #[test]
    fn a_frame_reads_its_nested_change() {
        let frame = ServerFrame::Event {
            room: Room::Workspace(3),
            position: Position {
                epoch: 1,
                offset: 9,
            },
            change: Change::NoticesRead { upto: 12, at: 5 },
        };
        let text = serde_json::to_string(&frame).expect("serializes");
        let back: ServerFrame = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, frame);
        let pong: ServerFrame = serde_json::from_str(r#"{"type":"pong"}"#).expect("a pong");
        assert_eq!(pong, ServerFrame::Pong);
    }
}
