//! `/w/{slug}/import`: choose an export's CSV files, see a preview of each (its columns
//! and first rows), say which of the importer's files and columns they are (suggested,
//! and saved for the workspace), then import them with the progress shown as it goes and
//! the report at the end.

mod mapping;
mod report;

use leptos::prelude::*;

use crate::api::import::{get_import_mapping, save_import_mapping};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, Ready};
use crate::model::import::{ImportMapping, ImportReport};

use mapping::{FileMappingEditor, Preview};
use report::Report;

/// The import page (admins).
#[component]
pub fn ImportPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    if !ws.role.can_admin() {
        return view! {
            <h1>"Import"</h1>
            <p>"Only admins and the owner can import data into this workspace."</p>
        }
        .into_any();
    }
    let slug = ws.workspace.slug.clone();
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let previews = RwSignal::new(Vec::<Preview>::new());
    let mapping = RwSignal::new(ImportMapping::default());
    // While importing: the file being written, its rows done and its rows read.
    let progress = RwSignal::new(None::<(String, u64, u64)>);
    let result = RwSignal::new(None::<Result<ImportReport, String>>);
    let saved = RwSignal::new(None::<Result<(), String>>);

    // The mapping saved for the workspace is where suggestions start.
    let saved_slug = slug.clone();
    let saved_mapping = Resource::new(|| (), move |_| get_import_mapping(saved_slug.clone()));
    Effect::new(move |_| {
        if let Some(Ok(m)) = saved_mapping.get() {
            mapping.set(m);
        }
    });

    let on_files = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let files = input.get_untracked().and_then(|i| i.files());
            leptos::task::spawn_local(async move {
                let read = mapping::read_previews(files).await;
                mapping.update(|m| {
                    for p in &read {
                        mapping::suggest(m, p);
                    }
                });
                previews.set(read);
            });
        }
    };
    let save_slug = slug.clone();
    let save = move |_| {
        let (slug, m) = (save_slug.clone(), mapping.get_untracked());
        leptos::task::spawn_local(async move {
            saved.set(Some(
                save_import_mapping(slug, m)
                    .await
                    .map_err(|e| error_message(&e)),
            ));
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let files = input.get_untracked().and_then(|i| i.files());
            let (slug, m) = (slug.clone(), mapping.get_untracked());
            progress.set(Some((String::new(), 0, 0)));
            result.set(None);
            leptos::task::spawn_local(async move {
                let on_progress = move |file: String, done: u64, total: u64| {
                    progress.set(Some((file, done, total)));
                };
                result.set(Some(upload::send(slug, files, m, on_progress).await));
                progress.set(None);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&slug, input);
    };
    let running = move || progress.with(Option::is_some);

    view! {
        <h1>"Import CRM data"</h1>
        <p>"Choose the CSV files of a CRM export (Maven's accounts.csv, products.csv, sales_teams.csv and sales_pipeline.csv, or another CRM's). Each file is previewed with its columns, and you say which of them is which; importing the same files again changes nothing."</p>
        <form class="import-form" on:submit=submit><Ready>
            <div class="inline-form">
                <label for="import-files">"CSV files"</label>
                <input id="import-files" type="file" accept=".csv,text/csv" multiple node_ref=input on:change=on_files/>
            </div>
            <For each=move || previews.get() key=|p| p.name.clone() let:preview>
                <FileMappingEditor preview mapping/>
            </For>
            {view! { <div class="actions">
                <button type="button" on:click=save disabled=move || previews.with(Vec::is_empty)>"Save mapping"</button>
                <button type="submit" class="primary" disabled=running>"Import"</button>
                <span role="status">{move || match saved.get() {
                    Some(Ok(())) => "Mapping saved".to_string(),
                    Some(Err(e)) => e,
                    None => String::new(),
                }}</span>
            </div> }.into_any()}
        </Ready></form>
        {move || progress.get().map(|(file, done, total)| view! {
                <div class="import-progress">
                    <label for="import-progress">{if file.is_empty() { "Sending the files…".to_string() } else { format!("Importing {file}") }}</label>
                    <progress id="import-progress" max=total.max(1) value=done></progress>
                    <p role="status">{if total > 0 { format!("{file}: {done} of {total} rows") } else { "Importing…".to_string() }}</p>
                </div>
        })}
        {move || result.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            Ok(report) => view! { <Report report/> }.into_any(),
        })}
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod upload {
    //! Sending the files and the mapping, and reading the streamed answer line by line.

    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    use crate::components::error_message;
    use crate::error::AppError;
    use crate::model::import::{ImportMapping, ImportReport, UploadLine};

    /// Sends the chosen files and the mapping to `POST /api/import_crm`, asking for the
    /// streamed answer, and calls `on_progress` for each progress line.
    /// Errors: a message for people (no files, a network failure, the server's error).
    pub(super) async fn send(
        slug: String,
        files: Option<web_sys::FileList>,
        mapping: ImportMapping,
        on_progress: impl Fn(String, u64, u64),
    ) -> Result<ImportReport, String> {
        let files = files
            .filter(|f| f.length() > 0)
            .ok_or("Choose the CSV files to import first.")?;
        let form = web_sys::FormData::new().map_err(|_| "Your browser cannot send forms.")?;
        let json = serde_json::to_string(&mapping).map_err(|e| e.to_string())?;
        form.append_with_str("mapping", &json)
            .map_err(|_| "The mapping could not be sent.")?;
        for i in 0..files.length() {
            if let Some(file) = files.get(i) {
                form.append_with_blob_and_filename("files", &file, &file.name())
                    .map_err(|_| "A file could not be read.")?;
            }
        }
        let url = format!("/api/import_crm?workspace={slug}");
        let response = gloo_net::http::Request::post(&url)
            .header("Accept", "application/x-ndjson")
            .body(form)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| format!("The upload failed: {e}"))?;
        if !response.ok() {
            return match response.json::<AppError>().await {
                Ok(e) => Err(error_message(&e)),
                Err(_) => Err(format!("The server answered {}", response.status())),
            };
        }
        let reader: web_sys::ReadableStreamDefaultReader = response
            .body()
            .ok_or("The server sent no answer.")?
            .get_reader()
            .unchecked_into();
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = JsFuture::from(reader.read())
                .await
                .map_err(|_| "The connection broke during the import; its report is lost (importing again is safe).")?;
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
                if !value.is_undefined() {
                    pending.extend(js_sys::Uint8Array::new(&value).to_vec());
                }
            }
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<UploadLine>(&line) {
                    Ok(UploadLine::Progress { file, done, total }) => {
                        on_progress(file, done, total)
                    }
                    Ok(UploadLine::Report(report)) => return Ok(report),
                    Ok(UploadLine::Error(e)) => return Err(error_message(&e)),
                    Err(e) => return Err(format!("The server's answer could not be read: {e}")),
                }
            }
            if done {
                return Err("The import ended without a report.".into());
            }
        }
    }
}
