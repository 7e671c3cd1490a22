//! `link_header`: the `Link` header parser (`mercure_core::headers::LinkValue`,
//! RFC 8288), which a client runs on every discovery response.
//!
//! Input: the header value (invalid UTF-8 replaced, as header values reach
//! the parser as text). Checks:
//!
//! - no panic;
//! - every link parsed, rendered again (`<target>` and each parameter as a
//!   quoted string), parses to the same links: target, relations and
//!   parameters;
//! - relations are the first `rel`'s words, lowercased.

use mercure_core::headers::LinkValue;
use url::Url;

use crate::shown;

/// Renders `links` as one `Link` header value.
fn render(links: &[LinkValue]) -> String {
    let mut out = String::new();
    for (i, link) in links.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('<');
        out.push_str(link.target().as_str());
        out.push('>');
        for (name, value) in link.params() {
            out.push_str("; ");
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
    out
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let base = Url::parse("https://example.com/books/1?x=1").expect("the base URL");
    let links = LinkValue::parse_all(&header, &base);
    for link in &links {
        let first_rel = link.params().iter().find(|(n, _)| n == "rel");
        let expected: Vec<String> = first_rel
            .map(|(_, v)| {
                v.split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(link.relations(), expected.as_slice(), "\"{}\"", shown(data));
    }
    let rendered = render(&links);
    let again = LinkValue::parse_all(&rendered, &base);
    assert_eq!(
        again,
        links,
        "\"{}\" parsed, rendered as \"{}\", parses otherwise",
        shown(data),
        shown(rendered.as_bytes())
    );
}
