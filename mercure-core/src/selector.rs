//! Topic selectors: what a token grants and what a subscriber asks for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ProtocolVersion;

/// How a selector's expression is matched against topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    /// Byte-for-byte comparison with the topic.
    Exact,
    /// A pattern: an RFC 6570 URI template in 0.x, a WHATWG URL Pattern in 1.0.
    #[serde(rename = "urlpattern")]
    Pattern,
}

/// A topic selector (a "topic matcher" in 1.0).
///
/// In 0.x a selector is a bare string that the hub interprets as an exact
/// topic, a URI template or `*`; in 1.0 it carries an explicit match type.
/// One value serves both dialects: [`TopicSelector::query_param`] and the
/// token claims pick the dialect's spelling.
///
/// ```
/// use mercure_core::{ProtocolVersion, TopicSelector};
///
/// let books = TopicSelector::pattern("https://example.com/books/:id");
/// assert_eq!(books.query_param(ProtocolVersion::V1), "match_urlpattern");
/// assert_eq!(books.query_param(ProtocolVersion::V0), "topic");
/// assert!(TopicSelector::all().is_wildcard());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicSelector {
    expression: String,
    match_type: MatchType,
}

impl TopicSelector {
    /// A selector matching exactly one topic.
    pub fn exact(topic: impl Into<String>) -> Self {
        Self {
            expression: topic.into(),
            match_type: MatchType::Exact,
        }
    }

    /// A pattern selector (URI template in 0.x, URL pattern in 1.0).
    pub fn pattern(pattern: impl Into<String>) -> Self {
        Self {
            expression: pattern.into(),
            match_type: MatchType::Pattern,
        }
    }

    /// The wildcard `*`, matching every topic in both dialects.
    pub fn all() -> Self {
        Self::exact("*")
    }

    /// The expression (topic, template or pattern).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// How the expression is matched.
    pub fn match_type(&self) -> MatchType {
        self.match_type
    }

    /// Whether this is the `*` wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.expression == "*"
    }

    /// The first character the protocol forbids in the expression, if any:
    /// a control character (C0, DEL, C1) or a Unicode format character
    /// (zero-width spaces, bidirectional overrides, ...). Selectors follow
    /// the character rules of published topics (see
    /// [`UpdateBuilder::build`](crate::UpdateBuilder::build)), so that a
    /// hub refuses both alike.
    ///
    /// ```
    /// use mercure_core::TopicSelector;
    ///
    /// assert_eq!(TopicSelector::exact("https://example.com/a").first_forbidden_char(), None);
    /// assert_eq!(TopicSelector::exact("https://example.com/a\u{200B}").first_forbidden_char(), Some('\u{200B}'));
    /// assert_eq!(TopicSelector::pattern("/a/\u{202E}:id").first_forbidden_char(), Some('\u{202E}'));
    /// assert_eq!(TopicSelector::exact("a\nb").first_forbidden_char(), Some('\n'));
    /// ```
    pub fn first_forbidden_char(&self) -> Option<char> {
        crate::text::first_forbidden(&self.expression)
    }

    /// The subscribe query parameter naming this selector in `version`.
    pub fn query_param(&self, version: ProtocolVersion) -> &'static str {
        let dialect = version.dialect();
        match self.match_type {
            MatchType::Exact => dialect.exact_selector_param,
            MatchType::Pattern => dialect.pattern_selector_param,
        }
    }
}

impl fmt::Display for TopicSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl From<&str> for TopicSelector {
    /// A bare string is an exact selector (`*` is the wildcard).
    fn from(topic: &str) -> Self {
        Self::exact(topic)
    }
}

impl From<String> for TopicSelector {
    /// A bare string is an exact selector (`*` is the wildcard).
    fn from(topic: String) -> Self {
        Self::exact(topic)
    }
}

impl From<&String> for TopicSelector {
    fn from(topic: &String) -> Self {
        Self::exact(topic.as_str())
    }
}
