//! `mercure completions` and `mercure man`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn mercure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mercure"))
        .args(args)
        .output()
        .expect("run mercure")
}

/// The standard output of a successful run.
fn stdout_of(args: &[&str]) -> String {
    let output = mercure(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// A directory under the temporary one, removed when dropped (not created).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "mercure-cli-docs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0).or_else(|_| std::fs::remove_file(&self.0));
    }
}

const SUBCOMMANDS: [&str; 8] = [
    "token",
    "publish",
    "subscribe",
    "discover",
    "subscriptions",
    "hub",
    "completions",
    "man",
];

#[test]
fn bash_completion_names_the_subcommands_and_their_flags() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("_mercure()"), "{script}");
    assert!(script.contains("complete -F _mercure"), "{script}");
    for subcommand in SUBCOMMANDS {
        assert!(script.contains(subcommand), "{subcommand} missing");
    }
    for flag in ["--hub", "--topic", "--publish", "--key-file", "--out"] {
        assert!(script.contains(flag), "{flag} missing");
    }
    // The shells' names are completed for `mercure completions`.
    assert!(
        script.contains("bash elvish fish powershell zsh"),
        "{script}"
    );
}

#[test]
fn completes_in_every_shell() {
    for (shell, marker) in [
        ("zsh", "#compdef mercure"),
        ("fish", "complete -c mercure"),
        ("elvish", "edit:completion:arg-completer[mercure]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(script.contains("subscriptions"), "{shell}");
    }
    let refused = mercure(&["completions", "tcsh"]);
    assert!(!refused.status.success());
}

#[test]
fn man_prints_the_page_of_mercure() {
    let page = stdout_of(&["man"]);
    let header = page
        .lines()
        .find(|line| line.starts_with(".TH "))
        .expect("a .TH header");
    assert!(header.starts_with(".TH mercure 1"), "{header}");
    // Only roff requests and comments come before the header.
    for line in page.lines().take_while(|line| !line.starts_with(".TH ")) {
        assert!(line.starts_with('.') || line.starts_with('\''), "{line}");
    }
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains("mercure"), "{page}");
    for subcommand in SUBCOMMANDS {
        assert!(page.contains(subcommand), "{subcommand} missing");
    }
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
}

#[test]
fn man_writes_one_page_per_command_into_the_directory() {
    let dir = TempDir::new();
    // Created when missing, nested or not.
    let out = dir.0.join("man1");
    let listing = stdout_of(&["man", "--out", out.to_str().unwrap()]);
    let mut expected = vec!["mercure.1".to_owned()];
    // No page for `mercure hub`: `mercure-hub.1` is the hub binary's own.
    expected.extend(
        SUBCOMMANDS
            .iter()
            .filter(|name| **name != "hub")
            .map(|name| format!("mercure-{name}.1")),
    );
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(written, sorted);
    // Each path is printed, mercure.1 first.
    let printed: Vec<&str> = listing.lines().collect();
    assert_eq!(printed.len(), expected.len(), "{listing}");
    assert_eq!(printed[0], out.join("mercure.1").to_str().unwrap());
    for name in &expected {
        let path = out.join(name);
        assert!(printed.contains(&path.to_str().unwrap()), "{listing}");
        let page = std::fs::read_to_string(&path).unwrap();
        let stem = name.trim_end_matches(".1");
        assert!(page.contains(&format!(".TH {stem} 1")), "{name}:\n{page}");
    }
    assert!(!out.join("mercure-hub.1").exists());
    let publish = std::fs::read_to_string(out.join("mercure-publish.1")).unwrap();
    assert!(
        publish.contains(concat!("\"mercure ", env!("CARGO_PKG_VERSION"), "\"")),
        "{publish}"
    );
    assert!(publish.contains("\\-\\-topic"), "{publish}");
    // Written again over the same files.
    stdout_of(&["man", "--out", out.to_str().unwrap()]);
}

#[test]
fn man_reports_a_directory_it_cannot_create() {
    let dir = TempDir::new();
    std::fs::write(&dir.0, "a file, not a directory").unwrap();
    let output = mercure(&["man", "--out", dir.0.join("man1").to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot create the directory"), "{stderr}");
}
