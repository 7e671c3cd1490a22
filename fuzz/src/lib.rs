//! The bodies of the fuzz targets of mercure-rs, one module per target,
//! each with `pub fn run(data: &[u8])`: the libFuzzer binaries of
//! `fuzz_targets/` call them (nightly, `cargo fuzz`), and `tests/replay.rs`
//! replays every corpus file and every finding through them on stable:
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml --no-default-features
//! ```
//!
//! A target panics when an input breaks one of its invariants; libFuzzer
//! reports the panic as a crash and keeps the input.

#![warn(missing_docs)]

pub mod lean_head;
pub mod link_header;
pub mod publish_form;
pub mod selector;
pub mod sse;
pub mod token;
pub mod www_authenticate;

/// A target's body.
pub type Run = fn(&[u8]);

/// Every target, by the name of its binary and corpus directory.
pub const TARGETS: &[(&str, Run)] = &[
    ("lean_head", lean_head::run),
    ("link_header", link_header::run),
    ("publish_form", publish_form::run),
    ("selector", selector::run),
    ("sse", sse::run),
    ("token", token::run),
    ("www_authenticate", www_authenticate::run),
];

/// An input as readable text for failure messages: at most 300 bytes,
/// escaped.
pub(crate) fn shown(bytes: &[u8]) -> String {
    let mut text: String = bytes[..bytes.len().min(300)]
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if bytes.len() > 300 {
        text.push_str("...");
    }
    text
}

/// `data` cut into pieces: the first byte gives the number of cuts
/// (`% 8`), the next two bytes per cut their offsets (little-endian,
/// modulo the payload's length); the rest is the payload. Returns the
/// payload and its pieces (which may be empty).
pub(crate) fn cut(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let cuts = usize::from(byte(0)) % 8;
    let payload = &data[(1 + 2 * cuts).min(data.len())..];
    let mut at: Vec<usize> = (0..cuts)
        .map(|i| usize::from(u16::from_le_bytes([byte(1 + 2 * i), byte(2 + 2 * i)])))
        .map(|cut| cut % (payload.len() + 1))
        .collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(cuts + 1);
    let mut start = 0;
    for cut in at {
        pieces.push(&payload[start..cut]);
        start = cut;
    }
    pieces.push(&payload[start..]);
    (payload, pieces)
}
