//! The content hash that names a catalogue: FNV-1a over every file of `spec/` and `fixtures/`
//! (its path under the root, a NUL, its bytes), in path order. The build script embeds the
//! catalogue with this hash; a catalogue loaded from a directory is hashed the same way, so a
//! report names the catalogue that judged it either way.

use std::path::{Path, PathBuf};

/// The directories of a catalogue.
pub const DIRS: [&str; 2] = ["spec", "fixtures"];

/// Every file of the catalogue under `root` (hidden files and editor leftovers aside), as (path
/// under `root` with `/` separators, path), in path order.
pub fn files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in DIRS {
        collect(root, &root.join(dir), &mut out);
    }
    out.sort();
    out
}

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
            out.push((rel, path));
        }
    }
}

/// The hash of files given as (path under the root, bytes), in path order: 16 hex digits.
pub fn hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (rel, bytes) in files {
        feed(rel.as_bytes());
        feed(&[0]);
        feed(bytes);
    }
    format!("{h:016x}")
}

/// The hash of the catalogue under `root`.
pub fn of_dir(root: &Path) -> String {
    let read: Vec<(String, Vec<u8>)> = files(root)
        .into_iter()
        .map(|(rel, path)| {
            let bytes = std::fs::read(path).unwrap_or_default();
            (rel, bytes)
        })
        .collect();
    hash(read.iter().map(|(r, b)| (r.as_str(), b.as_slice())))
}
