//! RFC 6570 URI templates compiled to regular expressions, for matching
//! topics against the templates of 0.x topic selectors.
//!
//! RFC 6570 defines expansion only; matching is its inverse. Each
//! expression becomes a pattern accepting every expansion of its variables
//! (defined or not), with the characters the expression's operator may
//! produce: unreserved characters, percent-encoded octets and non-ASCII
//! characters (IRIs) for simple expansion and for `.`, `/`, `;`, `?`, `&`;
//! reserved characters as well for `+` and `#`. The `regex` engine matches
//! in linear time, so a hostile template cannot make matching explode.
//!
//! The expression is built as a syntax tree (no regular expression text is
//! parsed), and its automaton is limited in size (see [`crate::matcher`]):
//! each expression of a template adds about a kilobyte, and compiling stops
//! once past the limit.

use regex_automata::meta::Regex;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, Look, Repetition};

use crate::matcher::{build_regex, regex_size, too_large};

/// Fewest bytes the automaton of one variable of an expression takes
/// (about 1 KiB, a little more for operators), for refusing templates of
/// too many variables before building anything.
const MIN_VARIABLE_SIZE: usize = 1000;

/// Unreserved characters (RFC 3986) and non-ASCII ones (IRIs).
const UNRESERVED: &[(char, char)] = &[
    ('-', '.'),
    ('0', '9'),
    ('A', 'Z'),
    ('_', '_'),
    ('a', 'z'),
    ('~', '~'),
    ('\u{80}', '\u{10FFFF}'),
];
/// Reserved characters (RFC 3986), which the `+` and `#` operators pass
/// through.
const RESERVED: &[(char, char)] = &[
    ('!', '!'),
    ('#', '$'),
    ('&', ','),
    ('/', '/'),
    (':', ';'),
    ('=', '='),
    ('?', '@'),
    ('[', '['),
    (']', ']'),
];

/// A compiled URI template.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    regex: Regex,
    /// The text before the first expression and after the last one, which
    /// rule out most topics before the regular expression runs.
    prefix: Box<str>,
    suffix: Box<str>,
    /// Estimated bytes of the above.
    size: usize,
}

impl UriTemplate {
    /// Compiles `template`; every automaton built for it is limited to
    /// `limit` bytes (past it, the template is refused).
    pub(crate) fn compile(template: &str, limit: usize) -> Result<Self, String> {
        let values = Values::new();
        let mut parts = vec![Hir::look(Look::Start)];
        let mut variables = 0usize;
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(literal(rest));
                    break;
                }
                Some(pos) => {
                    parts.push(literal(&rest[..pos]));
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
                    let body = &after[..end];
                    variables = variables.saturating_add(body.split(',').count());
                    if variables.saturating_mul(MIN_VARIABLE_SIZE) > limit {
                        return Err(too_large(limit));
                    }
                    parts.push(expression(body, &values)?);
                    rest = &after[end + 1..];
                }
            }
        }
        parts.push(Hir::look(Look::End));
        let regex = build_regex(&Hir::concat(parts), limit)?;
        let (prefix, suffix) = match (template.find('{'), template.rfind('}')) {
            (Some(open), Some(close)) if open < close => {
                (&template[..open], &template[close + 1..])
            }
            _ => (template, ""),
        };
        Ok(Self {
            size: regex_size(&regex) + prefix.len() + suffix.len(),
            regex,
            prefix: prefix.into(),
            suffix: suffix.into(),
        })
    }

    /// Whether some expansion of the template equals `topic`.
    pub(crate) fn is_match(&self, topic: &str) -> bool {
        topic.len() >= self.prefix.len() + self.suffix.len()
            && (self.prefix.is_empty() || topic.starts_with(&*self.prefix))
            && (self.suffix.is_empty() || topic.ends_with(&*self.suffix))
            && self.regex.is_match(topic)
    }

    /// [`UriTemplate::is_match`] without the prefix and suffix shortcut.
    pub(crate) fn is_match_without_shortcut(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }

    /// An estimate of the bytes the compiled template takes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

/// The characters a variable's value may hold, as expressions.
struct Values {
    /// Unreserved and non-ASCII characters, or a percent-encoded octet.
    unreserved: Hir,
    /// The same, and reserved characters.
    reserved: Hir,
}

impl Values {
    fn new() -> Self {
        let class = |sets: &[&[(char, char)]]| {
            Hir::class(Class::Unicode(ClassUnicode::new(
                sets.iter()
                    .flat_map(|set| set.iter())
                    .map(|&(start, end)| ClassUnicodeRange::new(start, end)),
            )))
        };
        let hex = class(&[&[('0', '9'), ('A', 'F'), ('a', 'f')]]);
        let percent = Hir::concat(vec![literal("%"), hex.clone(), hex]);
        Self {
            unreserved: Hir::alternation(vec![class(&[UNRESERVED]), percent.clone()]),
            reserved: Hir::alternation(vec![class(&[UNRESERVED, RESERVED]), percent]),
        }
    }
}

/// `text`, matched as is.
fn literal(text: &str) -> Hir {
    Hir::literal(text.as_bytes())
}

/// `sub` repeated from `min` to `max` times (no upper bound for `None`).
fn repeat(sub: Hir, min: u32, max: Option<u32>) -> Hir {
    Hir::repetition(Repetition {
        min,
        max,
        greedy: true,
        sub: Box::new(sub),
    })
}

/// The pattern of one expression (the text between braces).
fn expression(body: &str, values: &Values) -> Result<Hir, String> {
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
        None => ("", ",", false, &values.unreserved),
        Some('+') => ("", ",", false, &values.reserved),
        Some('#') => ("#", ",", false, &values.reserved),
        Some('.') => (".", ".", false, &values.unreserved),
        Some('/') => ("/", "/", false, &values.unreserved),
        Some(';') => (";", ";", true, &values.unreserved),
        Some('?') => ("?", "&", true, &values.unreserved),
        _ => ("&", "&", true, &values.unreserved),
    };
    let any = || repeat(value.clone(), 0, None);
    // `=value`, optional.
    let assigned = || repeat(Hir::concat(vec![literal("="), any()]), 0, Some(1));
    let mut items = Vec::new();
    for varspec in list.split(',') {
        let (name, explode) = parse_varspec(varspec)?;
        items.push(match (named, explode) {
            (false, false) => any(),
            // Exploded lists may also hold `key=value` pairs.
            (false, true) => repeat(Hir::alternation(vec![value.clone(), literal("=")]), 0, None),
            (true, false) => Hir::concat(vec![literal(name), assigned()]),
            (true, true) => Hir::concat(vec![repeat(value.clone(), 1, None), assigned()]),
        });
    }
    let item = Hir::alternation(items);
    // `prefix item (separator item)*`, optional.
    Ok(repeat(
        Hir::concat(vec![
            literal(prefix),
            item.clone(),
            repeat(Hir::concat(vec![literal(separator), item]), 0, None),
        ]),
        0,
        Some(1),
    ))
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

    const LIMIT: usize = crate::matcher::MatcherLimits::MAX_PATTERN_SIZE;

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
            let compiled = UriTemplate::compile(template, LIMIT).unwrap();
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
            assert!(UriTemplate::compile(template, LIMIT).is_err(), "{template}");
        }
    }

    /// The regular expression text the templates used to be compiled from
    /// (with the `regex` crate), for comparison with the syntax trees built
    /// now.
    fn former_pattern(template: &str) -> String {
        const UNRESERVED: &str = r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])";
        const RESERVED: &str =
            r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\x00-\x7F])";
        let mut out = String::from("^");
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&regex::escape(&rest[..open]));
            let close = open + rest[open..].find('}').unwrap();
            let body = &rest[open + 1..close];
            let (op, list) = match body.chars().next().unwrap() {
                c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&') => (Some(c), &body[1..]),
                _ => (None, body),
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
            let items: Vec<String> = list
                .split(',')
                .map(|varspec| {
                    let (name, explode) = parse_varspec(varspec).unwrap();
                    match (named, explode) {
                        (false, false) => format!("{value}*"),
                        (false, true) => format!("(?:{value}|=)*"),
                        (true, false) => format!("{}(?:={value}*)?", regex::escape(name)),
                        (true, true) => format!("{value}+(?:={value}*)?"),
                    }
                })
                .collect();
            let item = format!("(?:{})", items.join("|"));
            out.push_str(&format!(
                "(?:{}{item}(?:{}{item})*)?",
                regex::escape(prefix),
                regex::escape(separator)
            ));
            rest = &rest[close + 1..];
        }
        out.push_str(&regex::escape(rest));
        out.push('$');
        out
    }

    #[test]
    fn matches_as_the_former_regular_expressions_did() {
        let templates = [
            "https://example.com/books/{id}",
            "https://example.com/{+path}",
            "https://example.com/{#frag}",
            "/books{/id*}",
            "/books{/id,x}",
            "/books{.format}",
            "/search{?q,lang}",
            "/search{?q*}",
            "/search{?q}{&page,size*}",
            "/m{;x,y*}",
            "/x{a,b*}",
            "/books/{id:3}",
            "/a.b/{x}(c)",
        ];
        let topics = [
            "",
            "/",
            "https://example.com/books/1",
            "https://example.com/books/caf%C3%A9",
            "https://example.com/books/café",
            "https://example.com/books/%zz",
            "https://example.com/books/1/2",
            "https://example.com/a/b?c=d#e",
            "https://example.com/#a/b",
            "https://example.com/",
            "/books",
            "/books/1/2/3",
            "/books/a=b",
            "/books/1,x",
            "/books.json",
            "/books.json.gz",
            "/search?q=cat&lang=en",
            "/search?q=cat",
            "/search?q",
            "/search?x=1&y=2",
            "/search?q=cat&page=2&size=3&size=4",
            "/m;x=1;y",
            "/m;x;y=a=b",
            "/x1,2",
            "/xa=b,c",
            "/books/123",
            "/books/1234",
            "/a.b/1(c)",
            "/aXb/1(c)",
        ];
        for template in templates {
            let ours = UriTemplate::compile(template, LIMIT).unwrap();
            let former = regex::Regex::new(&former_pattern(template)).unwrap();
            for topic in topics {
                assert_eq!(
                    ours.is_match(topic),
                    former.is_match(topic),
                    "{template} vs {topic}"
                );
            }
        }
    }

    #[test]
    fn templates_of_too_many_variables_are_refused_before_building() {
        let many = format!("/x{{{}}}", vec!["a"; 100].join(","));
        let error = UriTemplate::compile(&many, LIMIT).unwrap_err();
        assert!(error.contains("compiles to more than"), "{error}");
        let fine = format!("/x{{{}}}", ["a"; 4].join(","));
        assert!(UriTemplate::compile(&fine, LIMIT).is_ok());
    }
}
