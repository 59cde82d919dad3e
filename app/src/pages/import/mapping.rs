//! Each chosen file's preview and its mapping: which of the importer's files it is, and
//! which of its columns stands for each of the importer's columns, suggested from names
//! other exports use and from the mapping saved for the workspace.

use leptos::prelude::*;

#[cfg(any(feature = "hydrate", test))]
use crate::model::import::{guess_file, suggest_columns};
use crate::model::import::{ExportFile, ImportMapping, EXPORT_FILES};

/// Rows of a file shown in its preview.
#[cfg(feature = "hydrate")]
const PREVIEW_ROWS: usize = 5;

/// A chosen file's name, header and first rows.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Preview {
    /// The file's name.
    pub name: String,
    /// Its header (the columns detected).
    pub header: Vec<String>,
    /// Its first rows.
    pub rows: Vec<Vec<String>>,
}

/// Reads the chosen files' previews in the browser (nothing is sent).
#[cfg(feature = "hydrate")]
pub(super) async fn read_previews(files: Option<web_sys::FileList>) -> Vec<Preview> {
    let mut out = Vec::new();
    let Some(files) = files else {
        return out;
    };
    for i in 0..files.length() {
        let Some(file) = files.get(i) else { continue };
        let text = wasm_bindgen_futures::JsFuture::from(file.text())
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        let (header, rows) = crate::model::import::preview_csv(&text, PREVIEW_ROWS);
        out.push(Preview {
            name: file.name(),
            header,
            rows,
        });
    }
    out
}

/// The importer's file a chosen file stands for under `mapping`, if any.
fn target(mapping: &ImportMapping, name: &str) -> Option<&'static ExportFile> {
    EXPORT_FILES.iter().find(|f| mapping.file_name(f) == name)
}

/// Makes `file` (an importer's file) read from the chosen file `name`, and no other
/// importer's file that the mapping pointed at it. (A file with a Maven name is always
/// read as that file.)
fn assign(mapping: &mut ImportMapping, name: &str, file: Option<&'static ExportFile>) {
    for f in mapping.files.values_mut() {
        if f.file.as_deref() == Some(name) {
            f.file = None;
        }
    }
    if let Some(f) = file {
        mapping.files.entry(f.stem.into()).or_default().file =
            (name != f.name).then(|| name.to_string());
    }
}

/// Fills in what the mapping lacks for a chosen file: which importer's file it is (kept
/// if the saved mapping says, else guessed), and for each column a header the saved
/// mapping names if the file has it, else the suggested one.
#[cfg(any(feature = "hydrate", test))]
pub(super) fn suggest(mapping: &mut ImportMapping, preview: &Preview) {
    let Some(file) =
        target(mapping, &preview.name).or_else(|| guess_file(&preview.name, &preview.header))
    else {
        return;
    };
    assign(mapping, &preview.name, Some(file));
    let suggested = suggest_columns(file, &preview.header);
    let columns = &mut mapping.files.entry(file.stem.into()).or_default().columns;
    columns.retain(|_, header| preview.header.contains(header));
    for (column, header) in suggested {
        columns.entry(column).or_insert(header);
    }
}

/// A chosen file: its preview, which of the importer's files it is, and a column picker
/// for each of that file's columns.
#[component]
pub(super) fn FileMappingEditor(
    preview: Preview,
    mapping: RwSignal<ImportMapping>,
) -> impl IntoView {
    let name = preview.name.clone();
    let id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let chosen = {
        let name = name.clone();
        Memo::new(move |_| mapping.with(|m| target(m, &name).map(|f| f.stem)))
    };
    let choose = {
        let name = name.clone();
        move |ev| {
            let stem = event_target_value(&ev);
            mapping.update(|m| assign(m, &name, ExportFile::named(&stem)));
        }
    };
    let header = preview.header.clone();
    let head = header
        .iter()
        .map(|h| view! { <th scope="col">{h.clone()}</th> })
        .collect_view();
    let rows = preview
        .rows
        .iter()
        .map(|r| view! { <tr>{r.iter().map(|v| view! { <td>{v.clone()}</td> }).collect_view()}</tr> })
        .collect_view();
    let columns = move || {
        let file = ExportFile::named(chosen.get()?)?;
        let name = name.clone();
        let header = header.clone();
        let pickers = file
            .columns
            .iter()
            .map(|column| {
                let in_file = header.clone();
                // The file's header the mapping reads this column from ("" if none).
                let current = Memo::new(move |_| {
                    mapping.with(|m| {
                        let h = m.column(file, column);
                        in_file
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(h))
                            .cloned()
                            .unwrap_or_default()
                    })
                });
                let pick = move |ev| {
                    let h = event_target_value(&ev);
                    mapping.update(|m| {
                        let columns = &mut m.files.entry(file.stem.into()).or_default().columns;
                        if h.is_empty() || h == column.name {
                            columns.remove(column.name);
                        } else {
                            columns.insert(column.name.into(), h);
                        }
                    });
                };
                let caption = if column.required {
                    format!("{} (required)", column.caption)
                } else {
                    column.caption.to_string()
                };
                let options = header
                    .iter()
                    .map(|h| {
                        let (value, selected) = (h.clone(), h.clone());
                        view! { <option value=value selected=move || current.with(|c| *c == selected)>{h.clone()}</option> }
                    })
                    .collect_view();
                view! {
                    <tr>
                        <th scope="row">{caption.clone()}</th>
                        <td>
                            <select aria-label=caption prop:value=move || current.get() on:change=pick>
                                <option value="">"— not in this file —"</option>
                                {options}
                            </select>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        Some(view! {
            <table class="records mapping" aria-label=format!("Columns of {name}")>
                <thead><tr><th scope="col">"Imported as"</th><th scope="col">"Column of this file"</th></tr></thead>
                <tbody>{pickers}</tbody>
            </table>
        })
    };
    view! {
        <section class="import-file" aria-labelledby=format!("{id}-heading")>
            <h2 id=format!("{id}-heading")>{preview.name.clone()}</h2>
            <label for=format!("{id}-target")>{format!("{} is", preview.name)}</label>
            <select id=format!("{id}-target") prop:value=move || chosen.get().unwrap_or_default() on:change=choose>
                <option value="">"Not imported"</option>
                {EXPORT_FILES.iter().map(|f| view! {
                    <option value=f.stem selected=move || chosen.get() == Some(f.stem)>{f.name}</option>
                }).collect_view()}
            </select>
            <div class="scroll">
                <table class="records preview" aria-label=format!("Preview of {}", preview.name)>
                    <thead><tr>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {columns}
        </section>
    }
    // Erased: the page's view type would otherwise nest too deep for release builds.
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(name: &str, header: &[&str]) -> Preview {
        Preview {
            name: name.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    #[test]
    fn suggestions_fill_what_the_saved_mapping_lacks_and_keep_what_it_says() {
        let mut m = ImportMapping::default();
        // Saved: accounts come from companies.csv, the name from "Legal Name".
        let saved = m.files.entry("accounts".into()).or_default();
        saved.file = Some("companies.csv".into());
        saved.columns.insert("account".into(), "Legal Name".into());
        saved.columns.insert("sector".into(), "Gone Column".into());
        suggest(
            &mut m,
            &preview("companies.csv", &["Legal Name", "Company Name", "Industry"]),
        );
        let accounts = &m.files["accounts"];
        assert_eq!(
            accounts.columns["account"], "Legal Name",
            "the saved choice stays"
        );
        assert_eq!(
            accounts.columns["sector"], "Industry",
            "a header the file lacks is replaced"
        );
        // A file the mapping does not know is recognised from its columns.
        suggest(&mut m, &preview("opps.csv", &["Deal", "Stage", "Amount"]));
        let deals = &m.files["sales_pipeline"];
        assert_eq!(deals.file.as_deref(), Some("opps.csv"));
        assert_eq!(deals.columns["opportunity_id"], "Deal");
        assert_eq!(deals.columns["close_value"], "Amount");
        // Choosing it as another file moves it.
        assign(&mut m, "opps.csv", ExportFile::named("products"));
        assert_eq!(m.files["sales_pipeline"].file, None);
        assert_eq!(m.files["products"].file.as_deref(), Some("opps.csv"));
    }
}
