//! `WWW-Authenticate: Bearer` challenges (RFC 6750 §3, RFC 9728 §5.1).

use std::fmt;

/// A `Bearer` challenge from a hub's `WWW-Authenticate` header.
///
/// ```
/// use mercure_core::headers::BearerChallenge;
///
/// let challenge = BearerChallenge::parse(
///     r#"Bearer realm="mercure", error="invalid_token", error_description="The token \"expired\"""#,
/// )
/// .unwrap();
/// assert_eq!(challenge.error.as_deref(), Some("invalid_token"));
/// assert_eq!(challenge.error_description.as_deref(), Some(r#"The token "expired""#));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerChallenge {
    /// `realm`.
    pub realm: Option<String>,
    /// `error`: `invalid_request`, `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`: a human-readable explanation.
    pub error_description: Option<String>,
    /// `error_uri`.
    pub error_uri: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `resource_metadata`: where the RFC 9728 metadata lives.
    pub resource_metadata: Option<String>,
}

impl BearerChallenge {
    /// Finds and parses the `Bearer` challenge among the challenges of a
    /// `WWW-Authenticate` header value. `None` when there is none or the
    /// value is malformed.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parser = Parser {
            input: header.as_bytes(),
            pos: 0,
        };
        loop {
            parser.skip_separators();
            let scheme = parser.token()?;
            let params = parser.params()?;
            if scheme.eq_ignore_ascii_case("bearer") {
                let mut challenge = BearerChallenge::default();
                for (name, value) in params {
                    let slot = match name.to_ascii_lowercase().as_str() {
                        "realm" => &mut challenge.realm,
                        "error" => &mut challenge.error,
                        "error_description" => &mut challenge.error_description,
                        "error_uri" => &mut challenge.error_uri,
                        "scope" => &mut challenge.scope,
                        "resource_metadata" => &mut challenge.resource_metadata,
                        _ => continue,
                    };
                    slot.get_or_insert(value);
                }
                return Some(challenge);
            }
            if parser.at_end() {
                return None;
            }
        }
    }
}

impl fmt::Display for BearerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.error_description) {
            (Some(error), Some(description)) => write!(f, "{error}: {description}"),
            (Some(error), None) => f.write_str(error),
            (None, Some(description)) => f.write_str(description),
            (None, None) => f.write_str("bearer token required"),
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

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c) {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start)
            .then(|| String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    fn quoted(&mut self) -> Option<String> {
        // At the opening quote.
        self.pos += 1;
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

    /// Parameters up to the next challenge (a token not followed by `=`).
    fn params(&mut self) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        loop {
            self.skip_separators();
            if self.at_end() {
                return Some(params);
            }
            let mark = self.pos;
            let name = self.token()?;
            self.skip_ws();
            if self.peek() != Some(b'=') {
                // The start of the next challenge (or a token68, ignored).
                if params.is_empty() && self.peek().is_none_or(|c| c == b',') {
                    continue;
                }
                self.pos = mark;
                return Some(params);
            }
            self.pos += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()?
            } else {
                self.token().unwrap_or_default()
            };
            params.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                r#"Bearer error="invalid_token""#,
                Some(("invalid_token", "")),
            ),
            (
                r#"Basic realm="x", Bearer realm="hub", error=insufficient_scope, error_description="no publish grant""#,
                Some(("insufficient_scope", "no publish grant")),
            ),
            (
                r#"bearer resource_metadata="https://h/.well-known/oauth-protected-resource/.well-known/mercure""#,
                Some(("", "")),
            ),
            ("Bearer", Some(("", ""))),
            (r#"Basic realm="x""#, None),
            (r#"Bearer error="unterminated"#, None),
            ("", None),
        ];
        for (header, expected) in cases {
            let parsed = BearerChallenge::parse(header);
            match expected {
                None => assert_eq!(parsed, None, "{header}"),
                Some((error, description)) => {
                    let parsed = parsed.unwrap_or_else(|| panic!("{header}"));
                    assert_eq!(parsed.error.as_deref().unwrap_or(""), *error, "{header}");
                    assert_eq!(
                        parsed.error_description.as_deref().unwrap_or(""),
                        *description,
                        "{header}"
                    );
                }
            }
        }
        let metadata = BearerChallenge::parse(cases[2].0).unwrap();
        assert_eq!(
            metadata.resource_metadata.as_deref(),
            Some("https://h/.well-known/oauth-protected-resource/.well-known/mercure")
        );
    }
}
