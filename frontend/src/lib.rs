//! The WASM entry point: hydrates the server-rendered page.

/// Called by the hydration script: installs the panic hook (it prints a panic's message;
/// the release WASM built on nightly traps without one, see `.ci/bin/cargo`) and hydrates
/// `App` over the server's HTML, first loading the WASM chunks of what the page shows
/// lazily (a board: `app::preload_for_hydration`; a lazy route: `hydrate_lazy`).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        app::preload_for_hydration().await;
        leptos::mount::hydrate_lazy(app::App);
    });
}
