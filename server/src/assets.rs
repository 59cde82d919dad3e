//! The site's static files (WASM, JS, CSS, images) served from the binary itself when it
//! was built with the `embed-assets` feature, so `tandem serve` runs from any folder
//! with nothing beside it; otherwise, as under `cargo leptos watch`, from `target/site`
//! on disk (tower-http's `ServeDir`, in [`crate::router`]).
//!
//! Embedded files are brotli and gzip compressed at build time and served with an ETag
//! and `Cache-Control: no-cache` (their names carry no hash, so a browser revalidates
//! and gets a 304 until an upgrade changes them), by memory-serve.

use leptos::config::LeptosOptions;

/// Whether this binary carries the site.
pub const EMBEDDED: bool = cfg!(feature = "embed-assets");

/// The embedded files as a router (`/pkg/tandem.wasm`, `/favicon.ico`, …); `None` when
/// the binary carries none. Call once (memory-serve keeps the files for the process).
pub fn router<S: Clone + Send + Sync + 'static>() -> Option<axum::Router<S>> {
    #[cfg(feature = "embed-assets")]
    {
        use memory_serve::{load, CacheControl};
        Some(
            load!()
                .index_file(None)
                .cache_control(CacheControl::NoCache)
                .into_router(),
        )
    }
    #[cfg(not(feature = "embed-assets"))]
    None
}

/// Leptos' site options for `tandem serve`: from the environment cargo-leptos sets (or
/// the one it set when building). A self-contained binary started without them gets
/// output name `tandem` and production mode, and its site root points at a private
/// folder holding the split build's manifest (Leptos reads that file from disk to
/// preload a lazy page's chunk; every other file comes from memory).
///
/// Errors: the environment's options do not parse, or (self-contained) the manifest
/// cannot be written to the temporary folder.
pub fn leptos_options() -> anyhow::Result<LeptosOptions> {
    let configured = leptos::config::get_configuration(None).map(|c| c.leptos_options);
    if !EMBEDDED {
        return Ok(configured?);
    }
    let mut options = match configured {
        Ok(o) if !o.output_name.is_empty() => o,
        _ => LeptosOptions::builder().output_name("tandem").build(),
    };
    if std::env::var_os("LEPTOS_ENV").is_none() {
        options.env = leptos::config::Env::PROD;
    }
    if let Some(root) = unpack_manifest(&options)? {
        options.site_root = root.into();
    }
    Ok(options)
}

/// Writes the embedded split manifest to `<temp>/tandem-site-<pid>/<pkg>/` and returns
/// that site root; `None` when the build was not split.
fn unpack_manifest(options: &LeptosOptions) -> anyhow::Result<Option<String>> {
    #[cfg(feature = "embed-assets")]
    const MANIFEST: &str = include_str!(concat!(env!("OUT_DIR"), "/split_manifest.json"));
    #[cfg(not(feature = "embed-assets"))]
    const MANIFEST: &str = "";
    if MANIFEST.is_empty() {
        return Ok(None);
    }
    let root = std::env::temp_dir().join(format!("tandem-site-{}", std::process::id()));
    let pkg = root.join(options.site_pkg_dir.as_ref());
    std::fs::create_dir_all(&pkg)?;
    std::fs::write(pkg.join("__wasm_split_manifest.json"), MANIFEST)?;
    Ok(Some(root.display().to_string()))
}
