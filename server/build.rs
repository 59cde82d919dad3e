//! With the `embed-assets` feature, embeds the built site (`target/site`, or the folder in
//! `TANDEM_SITE_DIR`) into the binary through memory-serve, and keeps the split build's
//! manifest for the server's own use (see `src/assets.rs`). Without it, does nothing.

fn main() {
    #[cfg(feature = "embed-assets")]
    embed();
}

#[cfg(feature = "embed-assets")]
fn embed() {
    use std::path::PathBuf;
    println!("cargo::rerun-if-env-changed=TANDEM_SITE_DIR");
    let site: PathBuf = std::env::var_os("TANDEM_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site"));
    let site = site.canonicalize().unwrap_or_else(|_| {
        panic!(
            "no built site at {}: run `cargo leptos build --release --split` first",
            site.display()
        )
    });
    assert!(
        site.join("pkg").is_dir(),
        "{} holds no pkg folder: run `cargo leptos build --release --split` first",
        site.display()
    );
    let manifest = site.join("pkg/__wasm_split_manifest.json");
    println!("cargo::rerun-if-changed={}", manifest.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    std::fs::write(out.join("split_manifest.json"), text).expect("writing the manifest copy");
    // memory-serve compresses what it embeds itself; the `.br` and `.gz` copies that
    // `cargo leptos build --precompress` writes beside each file would only be embedded
    // again, as files of their own. It embeds a copy of the site without them.
    println!("cargo::rerun-if-changed={}", site.display());
    let copy = out.join("site");
    let _ = std::fs::remove_dir_all(&copy);
    copy_without_precompressed(&site, &copy);
    memory_serve::load_directory_with_embed(copy, true);
}

/// Copies the folder `from` to `to`, leaving out the precompressed `.br` and `.gz` files.
#[cfg(feature = "embed-assets")]
fn copy_without_precompressed(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("creating the site's copy");
    for entry in std::fs::read_dir(from).expect("reading the built site") {
        let path = entry.expect("reading the built site").path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_without_precompressed(&path, &target);
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
            std::fs::copy(&path, &target).expect("copying the built site");
        }
    }
}
