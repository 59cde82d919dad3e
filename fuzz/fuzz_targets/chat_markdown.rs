//! Chat's markdown subset (`parse_markdown`) on arbitrary text: it never panics, and a
//! link it makes only ever points at http, https or mailto (never `javascript:`).
#![no_main]

use app::model::chat::{parse_markdown, Inline};
use libfuzzer_sys::fuzz_target;

fn check(pieces: &[Inline]) {
    for piece in pieces {
        match piece {
            Inline::Link { href, .. } => {
                let lower = href.to_ascii_lowercase();
                assert!(
                    ["http://", "https://", "mailto:"]
                        .iter()
                        .any(|s| lower.starts_with(s)),
                    "a link to {href}"
                );
            }
            Inline::Bold(inner) | Inline::Italic(inner) => check(inner),
            Inline::Text(_) | Inline::Code(_) | Inline::Mention(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(&parse_markdown(text));
});
