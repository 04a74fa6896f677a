//! Embeds the catalogue (`spec/` and `fixtures/` of the workspace this crate is built in) so a
//! binary built from it (`cargo install`) carries its cases, and hashes it so a report can say
//! which catalogue judged it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let mut files = Vec::new();
    for dir in ["spec", "fixtures"] {
        let path = root.join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        collect(&root, &path, &mut files);
    }
    files.sort();
    // FNV-1a over every path and its bytes: stable across machines, no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut table = String::from("&[\n");
    for (rel, abs) in &files {
        let bytes = std::fs::read(abs).unwrap_or_default();
        feed(rel.as_bytes());
        feed(&[0]);
        feed(&bytes);
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    table.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    let code = format!(
        "/// Every file of the catalogue: its path under the root, and its bytes.\n\
         pub(crate) static FILES: &[(&str, &[u8])] = {table};\n\
         /// A hash of every path and byte of the catalogue.\n\
         pub(crate) const HASH: &str = \"{hash:016x}\";\n"
    );
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// Every file under `dir` (hidden ones and editor leftovers aside), as (path under `root` with
/// `/` separators, absolute path).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".snap.new") || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = std::fs::canonicalize(&path).unwrap_or(path);
            out.push((rel, abs));
        }
    }
}
