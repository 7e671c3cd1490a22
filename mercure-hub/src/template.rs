//! RFC 6570 URI templates compiled to regular expressions, for matching
//! topics against the templates of 0.x topic selectors.
//!
//! RFC 6570 defines expansion only; matching is its inverse. Each
//! expression becomes a pattern accepting every expansion of its variables
//! (defined or not), with the characters the expression's operator may
//! produce: unreserved characters, percent-encoded octets and non-ASCII
//! characters (IRIs) for simple expansion and for `.`, `/`, `;`, `?`, `&`;
//! reserved characters as well for `+` and `#`. The `regex` crate matches
//! in linear time, so a hostile template cannot make matching explode.

use regex::Regex;

/// Characters a variable's value may hold when reserved characters are
/// percent-encoded.
const UNRESERVED: &str = r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])";
/// Characters a variable's value may hold when reserved characters pass
/// through (`+` and `#` operators).
const RESERVED: &str = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])";

/// A compiled URI template.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    regex: Regex,
}

impl UriTemplate {
    /// Compiles `template`.
    pub(crate) fn compile(template: &str) -> Result<Self, String> {
        let mut pattern = String::with_capacity(template.len() * 4 + 2);
        pattern.push('^');
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    pattern.push_str(&regex::escape(rest));
                    break;
                }
                Some(pos) => {
                    pattern.push_str(&regex::escape(&rest[..pos]));
                    if rest.as_bytes()[pos] == b'}' {
                        return Err(format!(
                            "unmatched '}}' at byte {}",
                            template.len() - rest.len() + pos
                        ));
                    }
                    let after = &rest[pos + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| "unterminated expression: missing '}'".to_owned())?;
                    expression(&after[..end], &mut pattern)?;
                    rest = &after[end + 1..];
                }
            }
        }
        pattern.push('$');
        let regex = Regex::new(&pattern).map_err(|e| e.to_string())?;
        Ok(Self { regex })
    }

    /// Whether some expansion of the template equals `topic`.
    pub(crate) fn is_match(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

/// Appends the pattern of one expression (the text between braces).
fn expression(body: &str, out: &mut String) -> Result<(), String> {
    let (op, list) = match body.chars().next() {
        Some(c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&')) => (Some(c), &body[1..]),
        Some(c @ ('=' | ',' | '!' | '@' | '|')) => {
            return Err(format!(
                "the operator {c:?} is reserved for future extensions"
            ));
        }
        Some(_) => (None, body),
        None => return Err("empty expression '{}'".into()),
    };
    let (prefix, separator, named, value) = match op {
        None => ("", ",", false, UNRESERVED),
        Some('+') => ("", ",", false, RESERVED),
        Some('#') => ("#", ",", false, RESERVED),
        Some('.') => (".", ".", false, UNRESERVED),
        Some('/') => ("/", "/", false, UNRESERVED),
        Some(';') => (";", ";", true, UNRESERVED),
        Some('?') => ("?", "&", true, UNRESERVED),
        _ => ("&", "&", true, UNRESERVED),
    };
    let mut items = Vec::new();
    for varspec in list.split(',') {
        let (name, explode) = parse_varspec(varspec)?;
        let item = match (named, explode) {
            (false, false) => format!("{value}*"),
            // Exploded lists may also hold `key=value` pairs.
            (false, true) => format!("(?:{value}|=)*"),
            (true, false) => format!("{}(?:={value}*)?", regex::escape(name)),
            (true, true) => format!("{value}+(?:={value}*)?"),
        };
        items.push(item);
    }
    let item = format!("(?:{})", items.join("|"));
    let separator = regex::escape(separator);
    out.push_str("(?:");
    out.push_str(&regex::escape(prefix));
    out.push_str(&item);
    out.push_str("(?:");
    out.push_str(&separator);
    out.push_str(&item);
    out.push_str(")*)?");
    Ok(())
}

/// Splits a varspec into its name and whether it is exploded.
fn parse_varspec(varspec: &str) -> Result<(&str, bool), String> {
    let (name, explode) = match varspec.strip_suffix('*') {
        Some(name) => (name, true),
        None => (varspec, false),
    };
    let name = match name.split_once(':') {
        Some((name, length)) => {
            if explode {
                return Err(format!(
                    "{varspec:?} combines a prefix and an explode modifier"
                ));
            }
            if length.is_empty()
                || length.len() > 4
                || !length.bytes().all(|b| b.is_ascii_digit())
                || length.starts_with('0')
            {
                return Err(format!("{varspec:?} has an invalid prefix length"));
            }
            name
        }
        None => name,
    };
    let valid = !name.is_empty()
        && name.split('.').all(|part| !part.is_empty())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'%' || b == b'.');
    if valid {
        Ok((name, explode))
    } else {
        Err(format!("{varspec:?} is not a valid variable name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_expansions() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "https://example.com/books/{id}",
                "https://example.com/books/1",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/1/2",
                false,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/caf%C3%A9",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/café",
                true,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.com/books/a?b",
                false,
            ),
            (
                "https://example.com/books/{id}",
                "https://example.org/books/1",
                false,
            ),
            (
                "https://example.com/books/{id}",
                "https://exampleXcom/books/1",
                false,
            ),
            (
                "https://example.com/{+path}",
                "https://example.com/a/b?c=d#e",
                true,
            ),
            (
                "https://example.com/{path}",
                "https://example.com/a/b",
                false,
            ),
            (
                "https://example.com/users/{id}/books/{book}",
                "https://example.com/users/42/books/7",
                true,
            ),
            (
                "https://example.com/users/{id}/books/{book}",
                "https://example.com/users/42/books",
                false,
            ),
            ("/books{/id*}", "/books/1/2/3", true),
            ("/books{/id*}", "/books", true),
            ("/books{/id}", "/books/1/2", true),
            ("/books{.format}", "/books.json", true),
            ("/search{?q,lang}", "/search?q=cat&lang=en", true),
            ("/search{?q,lang}", "/search?q=cat", true),
            ("/search{?q}", "/search?x=cat", false),
            ("/search{?q}{&page}", "/search?q=cat&page=2", true),
            ("/m{;x,y}", "/m;x=1;y", true),
            ("/x{#frag}", "/x#a/b", true),
            ("/x{a,b}", "/x1,2", true),
            ("/books/{id:3}", "/books/123", true),
            ("plain", "plain", true),
            ("plain", "plainer", false),
        ];
        for (template, topic, expected) in cases {
            let compiled = UriTemplate::compile(template).unwrap();
            assert_eq!(compiled.is_match(topic), *expected, "{template} vs {topic}");
        }
    }

    #[test]
    fn rejects_malformed_templates() {
        for template in [
            "/a/{id",
            "/a/id}",
            "/a/{}",
            "/a/{=x}",
            "/a/{x y}",
            "/a/{x:0}",
            "/a/{x:3*}",
            "/a/{a..b}",
        ] {
            assert!(UriTemplate::compile(template).is_err(), "{template}");
        }
    }
}
