//! The WASM entry point: hydrates the server-rendered page.

/// Called by the hydration script: installs the panic hook and hydrates `App` over the
/// server's HTML.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
