//! The CSV import of each Maven export file (`server::import::check_file`: header, rows,
//! values through their fields' rules, duplicates) on arbitrary text: it never panics,
//! and every row it reads is accounted for (imported or reported, never dropped).
//! The first byte picks the file; the rest is its text.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FILES: [&str; 4] = ["products", "accounts", "sales_teams", "sales_pipeline"];

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let stem = FILES[usize::from(*pick) % FILES.len()];
    let (report, kept) = server::import::check_file(stem, text).expect("an export file");
    assert_eq!(
        kept + report.skipped,
        report.rows,
        "{stem}: a row went missing"
    );
});
