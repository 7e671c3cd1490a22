//! Replays every committed corpus file (`fuzz/corpus/<target>/`) and every
//! finding (`fuzz/findings/<target>/`) through its target, on stable:
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml --no-default-features
//! ```
//!
//! A finding is an input that once broke the product and has been fixed
//! (or, for `lean_head`, a known divergence the target leaves out): it must
//! pass now.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = mercure_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    let mut failed = Vec::new();
    for kind in ["corpus", "findings"] {
        for file in inputs(&root.join(kind).join(target)) {
            let data = std::fs::read(&file).expect("a readable input");
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(file.display().to_string());
            }
            count += 1;
        }
    }
    assert!(count > 0, "no corpus for {target}");
    assert!(
        failed.is_empty(),
        "{target}: failing inputs (messages above): {failed:#?}"
    );
    println!("{target}: {count} inputs replayed");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = mercure_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "lean_head",
            "link_header",
            "publish_form",
            "selector",
            "sse",
            "token",
            "www_authenticate"
        ]
    );
}

#[test]
fn lean_head() {
    replay("lean_head");
}

#[test]
fn link_header() {
    replay("link_header");
}

#[test]
fn publish_form() {
    replay("publish_form");
}

#[test]
fn selector() {
    replay("selector");
}

#[test]
fn sse() {
    replay("sse");
}

#[test]
fn token() {
    replay("token");
}

#[test]
fn www_authenticate() {
    replay("www_authenticate");
}
