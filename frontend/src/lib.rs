//! The WASM entry point: hydrates the server-rendered page.

/// Called by the hydration script: installs the panic hook and hydrates `App` over the
/// server's HTML, first loading the WASM chunk of the page shown if it is a lazy route.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
