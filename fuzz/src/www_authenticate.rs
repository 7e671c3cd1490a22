//! `www_authenticate`: the `WWW-Authenticate: Bearer` challenge parser
//! (`mercure_core::headers::BearerChallenge`, RFC 6750 §3, RFC 9728 §5.1),
//! which a client runs on every 401 and 403.
//!
//! Input: the header value (invalid UTF-8 replaced). Checks:
//!
//! - no panic;
//! - a challenge parsed, rendered again as a `Bearer` challenge with its
//!   parameters as quoted strings, parses to the same challenge, and so
//!   does the same rendering after another scheme's challenge
//!   (`Basic realm="x", Bearer ...`);
//! - its `Display` (what a client's error shows) never fails.

use mercure_core::headers::BearerChallenge;

use crate::shown;

fn quoted(out: &mut String, name: &str, value: Option<&String>) {
    if let Some(value) = value {
        out.push_str(if out.ends_with("Bearer") { " " } else { ", " });
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
}

fn render(challenge: &BearerChallenge) -> String {
    let mut out = String::from("Bearer");
    quoted(&mut out, "realm", challenge.realm.as_ref());
    quoted(&mut out, "error", challenge.error.as_ref());
    quoted(
        &mut out,
        "error_description",
        challenge.error_description.as_ref(),
    );
    quoted(&mut out, "error_uri", challenge.error_uri.as_ref());
    quoted(&mut out, "scope", challenge.scope.as_ref());
    quoted(
        &mut out,
        "resource_metadata",
        challenge.resource_metadata.as_ref(),
    );
    out
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let Some(challenge) = BearerChallenge::parse(&header) else {
        return;
    };
    let _ = challenge.to_string();
    let rendered = render(&challenge);
    for text in [rendered.clone(), format!("Basic realm=\"x\", {rendered}")] {
        assert_eq!(
            BearerChallenge::parse(&text).as_ref(),
            Some(&challenge),
            "\"{}\" parsed, rendered as \"{}\", parses otherwise",
            shown(data),
            shown(text.as_bytes())
        );
    }
}
