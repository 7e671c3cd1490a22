//! The discovery `Link` header value that points subscribers at the hub.

use url::Url;

use mercure_core::HubInfo;

/// Why a discovery link cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A link parameter name is not an RFC 7230 token.
    #[error("invalid Link parameter name {0:?}")]
    InvalidParameterName(String),
    /// A link parameter value holds a control character.
    #[error("the value of the Link parameter {0:?} contains a control character")]
    InvalidParameterValue(String),
    /// The `rel` parameter is set by the link itself.
    #[error("the rel parameter of a discovery link is always \"mercure\"")]
    ReservedParameter,
}

/// `Link: <hub>; rel="mercure"`, the header by which a resource tells
/// subscribers where its updates are published (RFC 8288 syntax).
///
/// ```
/// use mercure_web::{DiscoveryLink, HubInfo};
///
/// let hub = HubInfo::builder("http://mercure:3000/.well-known/mercure")
///     .public_url("https://example.com/.well-known/mercure")
///     .build()
///     .unwrap();
/// let link = DiscoveryLink::new(&hub).parameter("last-event-id", "urn:uuid:1").unwrap();
/// assert_eq!(
///     link.header_value(),
///     r#"<https://example.com/.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1""#
/// );
/// assert_eq!(
///     DiscoveryLink::self_link("https://example.com/books/1"),
///     r#"<https://example.com/books/1>; rel="self""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct DiscoveryLink {
    hub: Url,
    parameters: Vec<(String, String)>,
}

impl DiscoveryLink {
    /// A link to `hub`'s public URL.
    pub fn new(hub: &HubInfo) -> Self {
        Self::for_url(hub.public_url().clone())
    }

    /// A link to the hub at `url`.
    pub fn for_url(url: Url) -> Self {
        Self {
            hub: url,
            parameters: Vec::new(),
        }
    }

    /// Adds a link parameter such as `last-event-id`, `content-type`,
    /// `key-set` (0.x) or `type` (1.0). The value is quoted and escaped.
    ///
    /// # Errors
    /// [`LinkError::InvalidParameterName`], [`LinkError::InvalidParameterValue`],
    /// [`LinkError::ReservedParameter`] for `rel`.
    pub fn parameter(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, LinkError> {
        let name = name.into();
        let value = value.into();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(LinkError::InvalidParameterName(name));
        }
        if name.eq_ignore_ascii_case("rel") {
            return Err(LinkError::ReservedParameter);
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(LinkError::InvalidParameterValue(name));
        }
        self.parameters.push((name, value));
        Ok(self)
    }

    /// The hub URL the link points at.
    pub fn url(&self) -> &Url {
        &self.hub
    }

    /// The `Link` header value.
    pub fn header_value(&self) -> String {
        let mut value = format!("<{}>; rel=\"mercure\"", self.hub);
        for (name, parameter) in &self.parameters {
            value.push_str("; ");
            value.push_str(name);
            value.push_str("=\"");
            push_escaped(&mut value, parameter);
            value.push('"');
        }
        value
    }

    /// The `Link: <resource>; rel="self"` value that tells subscribers the
    /// canonical topic of a resource. Characters a URI reference cannot hold
    /// unescaped (`<`, `>`, spaces, controls) are percent-encoded.
    pub fn self_link(resource: &str) -> String {
        use std::fmt::Write as _;
        let mut value = String::with_capacity(resource.len() + 14);
        value.push('<');
        for byte in resource.bytes() {
            if byte <= b' ' || byte >= 0x7f || matches!(byte, b'<' | b'>' | b'"') {
                let _ = write!(value, "%{byte:02X}");
            } else {
                value.push(char::from(byte));
            }
        }
        value.push_str(">; rel=\"self\"");
        value
    }
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> DiscoveryLink {
        DiscoveryLink::for_url(Url::parse("https://hub.example/.well-known/mercure").expect("url"))
    }

    #[test]
    fn header_values() {
        let cases: Vec<(DiscoveryLink, &str)> = vec![
            (
                link(),
                r#"<https://hub.example/.well-known/mercure>; rel="mercure""#,
            ),
            (
                link()
                    .parameter("content-type", "application/ld+json")
                    .expect("ok"),
                r#"<https://hub.example/.well-known/mercure>; rel="mercure"; content-type="application/ld+json""#,
            ),
            (
                link().parameter("x", r#"a"b\c"#).expect("ok"),
                r#"<https://hub.example/.well-known/mercure>; rel="mercure"; x="a\"b\\c""#,
            ),
            (
                DiscoveryLink::for_url(Url::parse("https://h/<a>?q=\"x y\"").expect("url")),
                r#"<https://h/%3Ca%3E?q=%22x%20y%22>; rel="mercure""#,
            ),
        ];
        for (link, expected) in cases {
            assert_eq!(link.header_value(), expected);
        }
    }

    #[test]
    fn bad_parameters() {
        assert_eq!(
            link().parameter("", "x"),
            Err(LinkError::InvalidParameterName(String::new()))
        );
        assert_eq!(
            link().parameter("a b", "x"),
            Err(LinkError::InvalidParameterName("a b".into()))
        );
        assert_eq!(
            link().parameter("REL", "x"),
            Err(LinkError::ReservedParameter)
        );
        assert_eq!(
            link().parameter("x", "a\r\nSet-Cookie: y"),
            Err(LinkError::InvalidParameterValue("x".into()))
        );
    }

    #[test]
    fn self_links() {
        assert_eq!(
            DiscoveryLink::self_link("/books/1"),
            r#"</books/1>; rel="self""#
        );
        assert_eq!(
            DiscoveryLink::self_link("/a b>é"),
            r#"</a%20b%3E%C3%A9>; rel="self""#
        );
    }
}
