//! The privacy oracle shared by the privacy properties (`privacy_property`
//! over the in-process hub, `redis_privacy` across instances): which of the
//! published updates a subscriber must receive, computed without the
//! hub's matcher code.
//!
//! A subscriber receives an update when one of its selectors picks one of
//! the update's topics (canonical or alternate), and, when the update is
//! private, one of the selectors it is authorized for picks one of them
//! too (not necessarily the same topic: alternates are how per-user access
//! is granted).
//!
//! The reference matchers cover what the properties generate: exact
//! topics, `*`, the RFC 6570 expressions `{var}` (unreserved characters or
//! percent-encoded octets) and `{+var}` (reserved ones too), and WHATWG URL
//! patterns over `http(s)` URLs without query or fragment whose path holds
//! literals, `:name` groups (one segment, not empty) and `*` (anything),
//! relative ones resolved against the hub's origin.

#![allow(dead_code, unreachable_pub)]

/// A topic selector, as the reference reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `*`: every topic.
    All,
    /// Byte-for-byte equality.
    Exact(String),
    /// A 0.x URI template (`{var}`, `{+var}`).
    Template(String),
    /// A 1.0 URL pattern, absolute or starting with `/` (relative to the
    /// hub's origin).
    UrlPattern(String),
}

impl Selector {
    /// The selector's text as a client sends it.
    pub fn expression(&self) -> &str {
        match self {
            Selector::All => "*",
            Selector::Exact(s) | Selector::Template(s) | Selector::UrlPattern(s) => s,
        }
    }

    /// Whether this selector picks `topic`; `origin` (`https://host`,
    /// without a trailing slash) resolves relative URL patterns.
    pub fn picks(&self, topic: &str, origin: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Exact(exact) => exact == "*" || exact == topic,
            Selector::Template(template) => template_matches(template, topic),
            Selector::UrlPattern(pattern) => url_pattern_matches(pattern, topic, origin),
        }
    }
}

/// Which private updates a subscriber may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Those of every topic.
    All,
    /// Those with a topic picked by one of these (none: public only).
    Selectors(Vec<Selector>),
}

/// A published update, as the oracle sees it.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: String,
    /// Canonical topic first, then alternates.
    pub topics: Vec<String>,
    pub private: bool,
}

/// What a subscriber asked for and may see.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub selectors: Vec<Selector>,
    pub access: Access,
}

impl Wanted {
    /// Whether the subscriber must receive `update` (`origin` resolves
    /// relative URL patterns).
    pub fn allows(&self, update: &Published, origin: &str) -> bool {
        let picks = |set: &[Selector]| {
            update
                .topics
                .iter()
                .any(|topic| set.iter().any(|s| s.picks(topic, origin)))
        };
        picks(&self.selectors)
            && (!update.private
                || match &self.access {
                    Access::All => true,
                    Access::Selectors(access) => picks(access),
                })
    }

    /// The ids, in publishing order, of the updates of `published` the
    /// subscriber must receive.
    pub fn expected<'p>(&self, published: &'p [Published], origin: &str) -> Vec<&'p str> {
        published
            .iter()
            .filter(|u| self.allows(u, origin))
            .map(|u| u.id.as_str())
            .collect()
    }
}

/// RFC 3986 unreserved characters.
fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 reserved characters.
fn reserved(c: u8) -> bool {
    matches!(
        c,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    )
}

/// One piece of a template or of a URL pattern's path.
#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    Literal(&'a [u8]),
    /// Any run of characters the predicate accepts (and percent-encoded
    /// octets when `pct`), at least `min` of them.
    Run {
        accept: fn(u8) -> bool,
        pct: bool,
        min: usize,
    },
}

/// Whether `pieces` match the whole of `text` (backtracking; the inputs
/// are short).
fn matches_pieces(pieces: &[Piece<'_>], text: &[u8]) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    match *first {
        Piece::Literal(literal) => {
            text.starts_with(literal) && matches_pieces(rest, &text[literal.len()..])
        }
        Piece::Run { accept, pct, min } => {
            // Every prefix made of acceptable units, shortest first.
            let mut at = 0;
            let mut units = 0;
            loop {
                if units >= min && matches_pieces(rest, &text[at..]) {
                    return true;
                }
                match text.get(at) {
                    Some(&b'%')
                        if pct
                            && text.len() >= at + 3
                            && text[at + 1].is_ascii_hexdigit()
                            && text[at + 2].is_ascii_hexdigit() =>
                    {
                        at += 3;
                    }
                    Some(&c) if accept(c) => at += 1,
                    _ => return false,
                }
                units += 1;
            }
        }
    }
}

/// RFC 6570 matching, for templates made of literals, `{var}` and
/// `{+var}`.
///
/// # Panics
/// On an operator the reference does not know.
pub fn template_matches(template: &str, topic: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = template.as_bytes();
    while !rest.is_empty() {
        match rest.iter().position(|&c| c == b'{') {
            Some(0) => {
                let close = rest.iter().position(|&c| c == b'}').expect("closed {");
                let expression = &rest[1..close];
                let accept: fn(u8) -> bool = match expression.first() {
                    Some(b'+') => |c| unreserved(c) || reserved(c),
                    Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => unreserved,
                    _ => panic!("the reference knows {{var}} and {{+var}} only: {template}"),
                };
                pieces.push(Piece::Run {
                    accept,
                    pct: true,
                    min: 0,
                });
                rest = &rest[close + 1..];
            }
            Some(open) => {
                pieces.push(Piece::Literal(&rest[..open]));
                rest = &rest[open..];
            }
            None => {
                pieces.push(Piece::Literal(rest));
                rest = b"";
            }
        }
    }
    matches_pieces(&pieces, topic.as_bytes())
}

/// `scheme://host` and the path of an `http(s)` URL without query or
/// fragment; `None` for anything else.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let after = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let scheme = url.len() - after.len();
    let path_at = after.find('/').map_or(url.len(), |i| scheme + i);
    let (origin, path) = url.split_at(path_at);
    (!url.contains(['?', '#'])).then_some((origin, if path.is_empty() { "/" } else { path }))
}

/// WHATWG URL pattern matching, for patterns whose path holds literals,
/// `:name` groups and `*`.
///
/// # Panics
/// On a pattern the reference does not know.
pub fn url_pattern_matches(pattern: &str, topic: &str, origin: &str) -> bool {
    let absolute;
    let pattern = if pattern.starts_with('/') {
        absolute = format!("{origin}{pattern}");
        absolute.as_str()
    } else {
        pattern
    };
    let (pattern_origin, pattern_path) = split_url(pattern).expect("an http(s) pattern");
    let Some((topic_origin, topic_path)) = split_url(topic) else {
        return false;
    };
    if !pattern_origin.eq_ignore_ascii_case(topic_origin) {
        return false;
    }
    let mut pieces = Vec::new();
    let mut rest = pattern_path.as_bytes();
    while let Some(&c) = rest.first() {
        match c {
            b':' => {
                let name = rest[1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                assert!(name > 0, "a named group: {pattern}");
                pieces.push(Piece::Run {
                    accept: |c| c != b'/',
                    pct: false,
                    min: 1,
                });
                rest = &rest[1 + name..];
            }
            b'*' => {
                pieces.push(Piece::Run {
                    accept: |_| true,
                    pct: false,
                    min: 0,
                });
                rest = &rest[1..];
            }
            b'(' | b')' | b'{' | b'}' | b'?' | b'+' | b'\\' => {
                panic!("the reference does not know {:?} in {pattern}", c as char)
            }
            _ => {
                let literal = rest
                    .iter()
                    .take_while(|c| !matches!(c, b':' | b'*' | b'(' | b')' | b'{' | b'}'))
                    .count();
                pieces.push(Piece::Literal(&rest[..literal]));
                rest = &rest[literal..];
            }
        }
    }
    matches_pieces(&pieces, topic_path.as_bytes())
}

#[cfg(test)]
mod reference {
    use super::*;

    const ORIGIN: &str = "https://example.com";

    #[test]
    fn templates() {
        for (template, topic, expected) in [
            ("https://e.com/u/{id}", "https://e.com/u/1", true),
            ("https://e.com/u/{id}", "https://e.com/u/1/p", false),
            ("https://e.com/u/{id}", "https://e.com/u/a%2Fb", true),
            ("https://e.com/{+rest}", "https://e.com/u/1/p", true),
            ("https://e.com/u/{id}/p", "https://e.com/u/x-y/p", true),
            ("https://e.com/u/{id}/p", "https://e.com/u/x/q", false),
            ("urn:x:{id}", "urn:x:a", true),
            ("urn:x:{id}", "urn:x:a:b", false),
            ("https://e.com/u/{id}", "https://e.org/u/1", false),
        ] {
            assert_eq!(
                template_matches(template, topic),
                expected,
                "{template} {topic}"
            );
        }
    }

    #[test]
    fn url_patterns() {
        for (pattern, topic, expected) in [
            ("https://example.com/u/:id", "https://example.com/u/1", true),
            (
                "https://example.com/u/:id",
                "https://example.com/u/1/p",
                false,
            ),
            ("https://example.com/u/*", "https://example.com/u/1/p", true),
            ("https://example.com/u/*", "https://example.com/u", false),
            ("/u/:id", "https://example.com/u/1", true),
            ("/u/:id", "https://example.org/u/1", false),
            ("https://example.org/*", "https://example.org/a", true),
            ("https://example.org/*", "urn:example:a", false),
            ("https://example.com/:a/p", "https://example.com/x/p", true),
        ] {
            assert_eq!(
                url_pattern_matches(pattern, topic, ORIGIN),
                expected,
                "{pattern} {topic}"
            );
        }
    }
}
