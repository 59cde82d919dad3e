//! Internally tagged enums (`{"type": "event", ...}`) decoded without serde's buffering:
//! serde's own `#[serde(tag = ...)]` decoding copies every object into an intermediate
//! `Content` tree before it knows the variant, and so compiles each variant's decoding
//! twice, once for JSON and once for that tree (the `Change` enum's alone was 46 KB of
//! the browser's first page). The enums here are only ever read from what serde wrote,
//! which puts the tag first, so their decoding reads the tag, then the variant's fields
//! straight from the rest of the same object.

use serde::de::{Error, MapAccess, Visitor};

/// Reads the first key of an object and checks that it is `tag`. Errors: the object is
/// empty (`tag` is missing) or starts with another key (the message says the tag must
/// come first).
pub fn expect_tag_first<'de, A: MapAccess<'de>>(
    map: &mut A,
    tag: &'static str,
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

    match map.next_key_seed(Key(tag))? {
        Some(true) => Ok(()),
        Some(false) => Err(A::Error::custom(format_args!(
            "\"{tag}\" must be the object's first key"
        ))),
        None => Err(A::Error::missing_field(tag)),
    }
}

/// Declares an enum of struct and unit variants that serde serializes internally tagged
/// (`#[serde(tag = $tag, rename_all = $case)]`, added here) and that deserializes with
/// the tag as the object's first key, as serde writes it: the tag picks the variant, whose
/// fields (with their own `#[serde(...)]` attributes) are read from the rest of the
/// object. Unknown fields are ignored, as serde's derive does. Derive `Serialize` (not
/// `Deserialize`) on the enum as usual.
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

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                /// The variants, named as the tag spells them.
                #[derive(serde::Deserialize)]
                #[serde(rename_all = $case)]
                enum __Tag {
                    $( $(#[$vmeta])* $variant ),*
                }

                struct __Visitor;

                impl<'de> serde::de::Visitor<'de> for __Visitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        write!(f, "an object whose first key is \"{}\"", $tag)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        $crate::realtime::tag_first::expect_tag_first(&mut map, $tag)?;
                        let tag: __Tag = map.next_value()?;
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
                }

                deserializer.deserialize_map(__Visitor)
            }
        }
    };
}

pub(crate) use tag_first_enum;

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
            "\"kind\" must be the object's first key",
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
