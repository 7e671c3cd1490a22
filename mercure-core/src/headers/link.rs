//! Parsing `Link` header values (RFC 8288 §3).

use url::Url;

/// One link of a `Link` header: a target and its parameters.
///
/// ```
/// use mercure_core::headers::LinkValue;
/// use url::Url;
///
/// let base = Url::parse("https://example.com/books/1").unwrap();
/// let links = LinkValue::parse_all(
///     r#"</.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1", <https://example.com/books/1>; rel=self"#,
///     &base,
/// );
/// assert_eq!(links.len(), 2);
/// assert_eq!(links[0].target().as_str(), "https://example.com/.well-known/mercure");
/// assert!(links[0].has_rel("mercure"));
/// assert_eq!(links[0].param("last-event-id"), Some("urn:uuid:1"));
/// assert!(links[1].has_rel("self"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkValue {
    target: Url,
    relations: Vec<String>,
    params: Vec<(String, String)>,
}

impl LinkValue {
    /// The target, resolved against the URL of the response.
    pub fn target(&self) -> &Url {
        &self.target
    }

    /// The relation types (`rel` split on whitespace, lowercased).
    pub fn relations(&self) -> &[String] {
        &self.relations
    }

    /// Whether `rel` includes `relation` (compared case-insensitively).
    pub fn has_rel(&self, relation: &str) -> bool {
        self.relations
            .iter()
            .any(|r| r.eq_ignore_ascii_case(relation))
    }

    /// The first value of parameter `name` (case-insensitive; `rel` included).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter in order, names lowercased.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// Parses one `Link` header value holding any number of links; links
    /// that are malformed or whose target does not resolve are skipped.
    pub fn parse_all(header: &str, base: &Url) -> Vec<LinkValue> {
        let mut parser = Parser {
            input: header.as_bytes(),
            pos: 0,
        };
        let mut links = Vec::new();
        loop {
            parser.skip(|c| matches!(c, b' ' | b'\t' | b','));
            if parser.at_end() {
                return links;
            }
            match parser.link(base) {
                Some(link) => links.push(link),
                None => parser.skip_to_next_link(),
            }
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.pos += 1;
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(&self.input[start..end]).into_owned()
    }

    /// Skips past the next comma that is outside `<...>` and quotes.
    fn skip_to_next_link(&mut self) {
        let mut in_quotes = false;
        let mut in_angle = false;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'\\' if in_quotes => self.pos += 1,
                b'"' if !in_angle => in_quotes = !in_quotes,
                b'<' if !in_quotes => in_angle = true,
                b'>' if !in_quotes => in_angle = false,
                b',' if !in_quotes && !in_angle => return,
                _ => {}
            }
        }
    }

    fn link(&mut self, base: &Url) -> Option<LinkValue> {
        if self.peek()? != b'<' {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        self.skip(|c| c != b'>');
        if self.at_end() {
            return None;
        }
        let reference = self.text(start, self.pos);
        self.pos += 1;
        let target = base.join(reference.trim()).ok()?;
        let mut params = Vec::new();
        let mut has_rel = false;
        loop {
            self.skip(|c| matches!(c, b' ' | b'\t'));
            match self.peek() {
                None | Some(b',') => break,
                Some(b';') => self.pos += 1,
                Some(_) => return None,
            }
            self.skip(|c| matches!(c, b' ' | b'\t'));
            let start = self.pos;
            self.skip(is_token_byte);
            if self.pos == start {
                // `;` followed by nothing (or by the next link).
                continue;
            }
            let name = self.text(start, self.pos).to_ascii_lowercase();
            self.skip(|c| matches!(c, b' ' | b'\t'));
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip(|c| matches!(c, b' ' | b'\t'));
                if self.peek() == Some(b'"') {
                    self.quoted()?
                } else {
                    let start = self.pos;
                    self.skip(is_token_byte);
                    self.text(start, self.pos)
                }
            } else {
                String::new()
            };
            // RFC 8288 §3.3: only the first `rel` counts (remembered, so that
            // many parameters and many `rel`s cost linear time, not their
            // product).
            if name == "rel" {
                if has_rel {
                    continue;
                }
                has_rel = true;
            }
            params.push((name, value));
        }
        let relations = params
            .iter()
            .find(|(n, _)| n == "rel")
            .map(|(_, v)| {
                v.split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        Some(LinkValue {
            target,
            relations,
            params,
        })
    }

    fn quoted(&mut self) -> Option<String> {
        self.pos += 1; // the opening quote
        let mut value = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&value).into_owned()),
                b'\\' => {
                    value.push(self.peek()?);
                    self.pos += 1;
                }
                _ => value.push(c),
            }
        }
    }
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/books/1?x=1").unwrap()
    }

    #[test]
    fn parses_links_and_parameters() {
        let links = LinkValue::parse_all(
            r#"<https://hub.example.com/.well-known/mercure>;rel="mercure" ; last-event-id="urn:uuid:1" ; content-type="application/ld+json", </books/1>; rel="self alternate"; title="a, \"quoted\"; title""#,
            &base(),
        );
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].target().as_str(),
            "https://hub.example.com/.well-known/mercure"
        );
        assert_eq!(links[0].relations(), ["mercure"]);
        assert_eq!(links[0].param("LAST-EVENT-ID"), Some("urn:uuid:1"));
        assert_eq!(links[0].param("content-type"), Some("application/ld+json"));
        assert_eq!(links[1].target().as_str(), "https://example.com/books/1");
        assert!(links[1].has_rel("self") && links[1].has_rel("ALTERNATE"));
        assert_eq!(links[1].param("title"), Some(r#"a, "quoted"; title"#));
    }

    #[test]
    fn relative_targets_resolve_against_the_response_url() {
        let links = LinkValue::parse_all(r#"<../.well-known/mercure>; rel=mercure"#, &base());
        assert_eq!(
            links[0].target().as_str(),
            "https://example.com/.well-known/mercure"
        );
        let links = LinkValue::parse_all(r#"<>; rel=self"#, &base());
        assert_eq!(
            links[0].target().as_str(),
            "https://example.com/books/1?x=1"
        );
    }

    #[test]
    fn malformed_links_are_skipped_not_fatal() {
        let links = LinkValue::parse_all(
            r#"garbage; rel=x, <https://a.example/h>; rel="mercure", <unterminated; rel=y"#,
            &base(),
        );
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target().as_str(), "https://a.example/h");
        assert!(LinkValue::parse_all("", &base()).is_empty());
        assert!(
            LinkValue::parse_all(r#"<https://a.example/>; rel="unterminated"#, &base()).is_empty()
        );
        assert!(LinkValue::parse_all(r#"<http://[::1>; rel=x"#, &base()).is_empty());
    }

    #[test]
    fn first_rel_wins_and_flags_have_empty_values() {
        let links = LinkValue::parse_all(r#"<h>; rel=mercure; rel=self; crossorigin;"#, &base());
        assert_eq!(links[0].relations(), ["mercure"]);
        assert_eq!(links[0].param("crossorigin"), Some(""));
    }

    #[test]
    fn many_parameters_and_many_rels_cost_linear_time() {
        let base = Url::parse("https://example.com/").unwrap();
        let mut header = String::from("</hub>");
        for i in 0..20_000 {
            header.push_str(&format!("; p{i}=v"));
        }
        for _ in 0..20_000 {
            header.push_str("; rel=x");
        }
        header.push_str(", </other>; rel=mercure");
        // Quadratic work here would be 4·10^8 comparisons; linear is instant.
        let links = LinkValue::parse_all(&header, &base);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].relations(), ["x"]);
        assert!(links[1].has_rel("mercure"));
    }
}
