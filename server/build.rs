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
    // again, as files of their own. It embeds a mirror of the site without them.
    println!("cargo::rerun-if-changed={}", site.display());
    let mirror = out.join("site");
    mirror_without_precompressed(&site, &mirror);
    memory_serve::load_directory_with_embed(mirror, true);
}

/// Mirrors the folder `from` into `to`, leaving out each file's precompressed `.br` and
/// `.gz` copies. Files are hard links (copies where linking fails), so they keep their
/// original's modification time, and whatever is unchanged is left alone: memory-serve
/// watches `to`, and a file there newer than the build script's last run would make
/// every build embed, and compress, the whole site again.
#[cfg(feature = "embed-assets")]
fn mirror_without_precompressed(from: &std::path::Path, to: &std::path::Path) {
    use std::collections::HashSet;
    use std::fs;
    fs::create_dir_all(to).expect("creating the site's mirror");
    let mut kept = HashSet::new();
    for entry in fs::read_dir(from).expect("reading the built site") {
        let path = entry.expect("reading the built site").path();
        let name = path.file_name().expect("a file name").to_owned();
        let target = to.join(&name);
        if path.is_dir() {
            mirror_without_precompressed(&path, &target);
            kept.insert(name);
            continue;
        }
        let precompressed = matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz"))
            && path.with_extension("").is_file();
        if precompressed {
            continue;
        }
        kept.insert(name);
        let original = fs::metadata(&path).expect("reading the built site");
        let unchanged = fs::metadata(&target).is_ok_and(|m| {
            m.len() == original.len() && m.modified().ok() == original.modified().ok()
        });
        if !unchanged {
            let _ = fs::remove_file(&target);
            if fs::hard_link(&path, &target).is_err() {
                fs::copy(&path, &target).expect("copying the built site");
                let modified = original.modified().expect("a modification time");
                fs::File::options()
                    .write(true)
                    .open(&target)
                    .and_then(|f| f.set_modified(modified))
                    .expect("dating the copy as its original");
            }
        }
    }
    for entry in fs::read_dir(to).expect("reading the site's mirror") {
        let entry = entry.expect("reading the site's mirror");
        if !kept.contains(&entry.file_name()) {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}
