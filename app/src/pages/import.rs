//! `/w/{slug}/import`: upload the CRM export's CSV files and read the import report.

use leptos::prelude::*;

use crate::api::workspaces::WorkspaceView;
use crate::components::{use_origin, Ready};
use crate::model::import::ImportReport;

/// Sends the chosen files to `POST /api/import_crm` as multipart form data.
/// Errors: a message for people (network failure, or the server's error).
#[cfg(feature = "hydrate")]
async fn upload(slug: String, files: Option<web_sys::FileList>) -> Result<ImportReport, String> {
    use crate::components::error_message;
    use crate::error::AppError;
    let files = files
        .filter(|f| f.length() > 0)
        .ok_or("Choose the CSV files to import first.")?;
    let form = web_sys::FormData::new().map_err(|_| "Your browser cannot send forms.")?;
    for i in 0..files.length() {
        if let Some(file) = files.get(i) {
            form.append_with_blob_and_filename("files", &file, &file.name())
                .map_err(|_| "A file could not be read.")?;
        }
    }
    let url = format!("/api/import_crm?workspace={slug}");
    let response = gloo_net::http::Request::post(&url)
        .body(form)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("The upload failed: {e}"))?;
    if response.ok() {
        response
            .json::<ImportReport>()
            .await
            .map_err(|e| format!("The report could not be read: {e}"))
    } else {
        match response.json::<AppError>().await {
            Ok(e) => Err(error_message(&e)),
            Err(_) => Err(format!("The server answered {}", response.status())),
        }
    }
}

/// The upload form and, after an import, its report.
#[component]
pub fn ImportPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    // The upload runs only in the browser (its future is not `Send`), so it is spawned
    // from the submit handler; its state lives in plain signals.
    let pending = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<ImportReport, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let files = input.get_untracked().and_then(|i| i.files());
            let slug = slug.clone();
            pending.set(true);
            leptos::task::spawn_local(async move {
                result.set(Some(upload(slug, files).await));
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&slug, input);
    };
    if !ws.role.can_admin() {
        return view! {
            <h1>"Import"</h1>
            <p>"Only admins and the owner can import data into this workspace."</p>
        }
        .into_any();
    }
    view! {
        <h1>"Import CRM data"</h1>
        <p>"Upload the CSV files of the CRM export: accounts.csv, products.csv, sales_teams.csv and sales_pipeline.csv. Importing the same files again changes nothing."</p>
        <form class="inline-form" on:submit=submit><Ready>
            <label for="import-files">"CSV files"</label>
            <input id="import-files" type="file" accept=".csv,text/csv" multiple node_ref=input/>
            <button type="submit" class="primary" disabled=move || pending.get()>"Import"</button>
        </Ready></form>
        <Show when=move || pending.get()>
            <p role="status">"Importing…"</p>
        </Show>
        {move || result.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            Ok(report) => view! { <Report report/> }.into_any(),
        })}
    }
    .into_any()
}

/// An import report: a row of counts per file, every problem row, and invite links.
#[component]
fn Report(report: ImportReport) -> impl IntoView {
    let origin = use_origin();
    let files = report.files.clone();
    view! {
        <section aria-labelledby="report-heading">
            <h2 id="report-heading">"Import report"</h2>
            {match report.failed.clone() {
                Some(why) => view! { <p class="error" role="alert">{format!("The import stopped at {why}")}</p> }.into_any(),
                None => view! { <p role="status">{format!("Finished in {} ms.", report.elapsed_ms)}</p> }.into_any(),
            }}
            <table class="records" aria-label="Import report">
                <thead><tr>
                    <th scope="col">"File"</th><th scope="col">"Rows"</th><th scope="col">"Created"</th><th scope="col">"Updated"</th>
                    <th scope="col">"Unchanged"</th><th scope="col">"Skipped"</th><th scope="col">"Flagged"</th>
                </tr></thead>
                <tbody>
                    {report.files.iter().map(|f| view! {
                        <tr>
                            <th scope="row">{f.file.clone()}</th>
                            {match &f.error {
                                Some(e) => view! { <td colspan="6">{e.clone()}</td> }.into_any(),
                                None => view! {
                                    <td>{f.rows}</td><td>{f.created}</td><td>{f.updated}</td>
                                    <td>{f.unchanged}</td><td>{f.skipped}</td><td>{f.flagged}</td>
                                }.into_any(),
                            }}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {files.into_iter().filter(|f| !f.problems.is_empty()).map(|f| view! {
                <details>
                    <summary>{format!("{}: {} rows to look at", f.file, f.problems.len())}</summary>
                    <ul class="problems">
                        {f.problems.into_iter().map(|p| view! {
                            <li>{format!("Line {} ({}): {}{}", p.line, p.key, if p.skipped { "skipped: " } else { "" }, p.reason)}</li>
                        }).collect_view()}
                    </ul>
                </details>
            }).collect_view()}
            {(!report.invites.is_empty()).then(|| view! {
                <h3>"Invite links for imported people"</h3>
                <p>"Send each person their link: they choose an e-mail and password and take over their account and deals."</p>
                <ul class="invite-links">
                    {report.invites.iter().map(|i| {
                        let path = i.path.clone();
                        view! { <li>{format!("{} ({}): ", i.name, i.role.label())}<code>{move || format!("{}{}", origin.get(), path)}</code></li> }
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}
