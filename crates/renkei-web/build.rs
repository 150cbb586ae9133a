//! Installs the browser libraries Renkei serves itself (Leaflet and its marker clustering, see
//! `web/package.json`) with `npm ci` into the build directory and copies their dist files to
//! `$OUT_DIR/vendor/`, where `src/assets.rs` embeds them. The source tree is never written to.
//!
//! Without npm (or when the install fails) the build still succeeds with a warning and empty
//! files: the pages then show their server-drawn SVG maps only, which is what they do without
//! JavaScript anyway. The browser test checks the interactive map, so CI notices.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files to embed: (path under `node_modules`, name served under `/static/vendor/`).
const FILES: &[(&str, &str)] = &[
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    ("leaflet/LICENSE", "leaflet.LICENSE.txt"),
    (
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "leaflet.markercluster.js",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.css",
        "MarkerCluster.css",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.Default.css",
        "MarkerCluster.Default.css",
    ),
    (
        "leaflet.markercluster/MIT-LICENCE.txt",
        "leaflet.markercluster.LICENSE.txt",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package.json").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package-lock.json").display()
    );
    println!("cargo:rerun-if-env-changed=RENKEI_SKIP_NPM");

    let vendor = out.join("vendor");
    std::fs::create_dir_all(&vendor).expect("OUT_DIR is writable");
    let installed = if std::env::var_os("RENKEI_SKIP_NPM").is_some() {
        Err("RENKEI_SKIP_NPM is set".to_owned())
    } else {
        install(&web, &out.join("npm"))
    };
    match installed {
        Ok(modules) => {
            for (from, to) in FILES {
                let source = modules.join(from);
                std::fs::copy(&source, vendor.join(to)).unwrap_or_else(|e| {
                    panic!("cannot copy {}: {e}", source.display());
                });
            }
            println!("cargo:rustc-env=RENKEI_MAP_LIBRARY=leaflet");
        }
        Err(reason) => {
            println!(
                "cargo:warning=the interactive map is left out ({reason}); pages show the SVG map only. Install Node.js and npm and rebuild to include it."
            );
            for (_, to) in FILES {
                std::fs::write(vendor.join(to), "").expect("OUT_DIR is writable");
            }
            println!("cargo:rustc-env=RENKEI_MAP_LIBRARY=");
        }
    }
}

/// Runs `npm ci` on a copy of the manifest and lock in `dir`; returns its `node_modules`.
fn install(web: &Path, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(web.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy web/{file}: {e}"))?;
    }
    let modules = dir.join("node_modules");
    let lock_copy = dir.join("installed.lock");
    let lock = std::fs::read(web.join("package-lock.json")).map_err(|e| e.to_string())?;
    if modules.is_dir() && std::fs::read(&lock_copy).ok().as_deref() == Some(&lock[..]) {
        return Ok(modules);
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("npm cannot run: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed ({status})"));
    }
    std::fs::write(&lock_copy, &lock).map_err(|e| e.to_string())?;
    Ok(modules)
}
