//! Embeds the catalogue (`spec/` and `fixtures/` of the workspace this crate is built in) so a
//! binary built from it (`cargo install`) carries its cases, with the content hash that names
//! it (the same code hashes a catalogue loaded from a directory: `src/content_hash.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

#[path = "src/content_hash.rs"]
#[allow(dead_code, unreachable_pub)]
mod content_hash;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    for dir in content_hash::DIRS {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let files = content_hash::files(&root);
    let read: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(rel, path)| (rel.clone(), std::fs::read(path).unwrap_or_default()))
        .collect();
    let hash = content_hash::hash(read.iter().map(|(r, b)| (r.as_str(), b.as_slice())));
    let mut table = String::from("&[\n");
    for (rel, path) in &files {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
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
         /// The catalogue's content hash.\n\
         pub(crate) const HASH: &str = \"{hash}\";\n"
    );
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
