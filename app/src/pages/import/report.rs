//! An import report as the page shows it: counts per file, each row to look at, and the
//! invite links of imported people.

use leptos::prelude::*;

use crate::components::use_origin;
use crate::model::import::ImportReport;

/// An import report: a row of counts per file, every problem row, and invite links.
#[component]
pub(super) fn Report(report: ImportReport) -> impl IntoView {
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
