//! Topic matchers: compiled selectors, cached, matched against topics.

use std::sync::{Arc, OnceLock};

use mercure_core::{MatchType, ProtocolVersion, TopicSelector};
use quick_cache::sync::Cache;
use url::Url;
use urlpattern::{UrlPattern, UrlPatternInit, UrlPatternMatchInput, UrlPatternOptions};

use crate::Error;
use crate::template::UriTemplate;

/// A selector compiled for matching.
#[derive(Debug)]
pub(crate) enum Matcher {
    /// `*`: every topic.
    Any,
    /// Byte-for-byte comparison.
    Exact(Box<str>),
    /// 0.x: the expression itself, or any expansion of it as a URI template.
    Template {
        expression: Box<str>,
        template: UriTemplate,
    },
    /// 1.0: a WHATWG URL pattern, relative ones resolved against the hub URL.
    UrlPattern(Box<UrlPattern>),
}

impl Matcher {
    /// Whether `topics` holds a topic this matcher selects.
    pub(crate) fn matches_any(&self, topics: &TopicSet) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(expression) => topics.topics.iter().any(|t| **t == **expression),
            Matcher::Template {
                expression,
                template,
            } => topics
                .topics
                .iter()
                .any(|t| **t == **expression || template.is_match(t)),
            Matcher::UrlPattern(pattern) => topics.urls().iter().flatten().any(|url| {
                pattern
                    .test(UrlPatternMatchInput::Url(url.clone()))
                    .unwrap_or(false)
            }),
        }
    }

    /// Whether this matcher selects `topic`.
    pub(crate) fn matches(&self, topic: &str, base: &Url) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(expression) => topic == &**expression,
            Matcher::Template {
                expression,
                template,
            } => topic == &**expression || template.is_match(topic),
            Matcher::UrlPattern(pattern) => base.join(topic).is_ok_and(|url| {
                pattern
                    .test(UrlPatternMatchInput::Url(url))
                    .unwrap_or(false)
            }),
        }
    }
}

/// Results of pattern matchers for one update, shared by every subscriber
/// the update is offered to: subscribers of a popular pattern share one
/// compiled [`Matcher`] (through [`MatcherCache`]), so it is evaluated once
/// per update instead of once per subscriber. Exact matchers are cheaper
/// to compare than to look up and are not memoized.
#[derive(Debug, Default)]
pub(crate) struct MatchMemo {
    results: std::collections::HashMap<usize, bool>,
}

impl MatchMemo {
    /// Whether `matcher` selects one of `topics`, remembered per matcher.
    pub(crate) fn matches_any(&mut self, matcher: &Arc<Matcher>, topics: &TopicSet) -> bool {
        match **matcher {
            Matcher::Any | Matcher::Exact(_) => matcher.matches_any(topics),
            Matcher::Template { .. } | Matcher::UrlPattern(_) => *self
                .results
                .entry(Arc::as_ptr(matcher) as usize)
                .or_insert_with(|| matcher.matches_any(topics)),
        }
    }
}

/// The topics of one update, with their URL forms parsed on first need
/// (URL patterns match URLs) and then shared by every matcher.
#[derive(Debug)]
pub(crate) struct TopicSet {
    topics: Arc<[String]>,
    base: Url,
    urls: OnceLock<Box<[Option<Url>]>>,
}

impl TopicSet {
    pub(crate) fn new(topics: Arc<[String]>, base: Url) -> Self {
        Self {
            topics,
            base,
            urls: OnceLock::new(),
        }
    }

    pub(crate) fn topics(&self) -> &Arc<[String]> {
        &self.topics
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    fn urls(&self) -> &[Option<Url>] {
        self.urls.get_or_init(|| {
            self.topics
                .iter()
                .map(|topic| self.base.join(topic).ok())
                .collect()
        })
    }
}

/// What a selector's expression means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MatcherKind {
    /// 0.x: exact string, URI template or `*`.
    Legacy,
    /// 1.0 `match` / `match_exact`.
    Exact,
    /// 1.0 `match_urlpattern`.
    UrlPattern,
}

impl MatcherKind {
    /// The kind a dialect gives to a [`TopicSelector`].
    pub(crate) fn of(selector: &TopicSelector, version: ProtocolVersion) -> Self {
        match (version, selector.match_type()) {
            (ProtocolVersion::V0, _) => MatcherKind::Legacy,
            (ProtocolVersion::V1, MatchType::Exact) => MatcherKind::Exact,
            (ProtocolVersion::V1, MatchType::Pattern) => MatcherKind::UrlPattern,
        }
    }
}

/// Compiles selectors once and keeps the result for the next request
/// (bounded; the least recently used entries are evicted).
#[derive(Debug)]
pub(crate) struct MatcherCache {
    cache: Cache<(MatcherKind, Box<str>), Arc<Matcher>>,
    base: Url,
}

impl MatcherCache {
    pub(crate) fn new(capacity: usize, base: Url) -> Self {
        Self {
            cache: Cache::new(capacity.max(1)),
            base,
        }
    }

    /// The URL relative patterns and topics are resolved against.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The compiled matcher of `expression` read as `kind`.
    pub(crate) fn get(&self, kind: MatcherKind, expression: &str) -> Result<Arc<Matcher>, Error> {
        if expression == "*" {
            return Ok(Arc::new(Matcher::Any));
        }
        let key = (kind, Box::from(expression));
        if let Some(found) = self.cache.get(&key) {
            return Ok(found);
        }
        let compiled = Arc::new(self.compile(kind, expression)?);
        self.cache.insert(key, Arc::clone(&compiled));
        Ok(compiled)
    }

    fn compile(&self, kind: MatcherKind, expression: &str) -> Result<Matcher, Error> {
        let invalid = |reason: String| Error::InvalidSelector {
            selector: expression.to_owned(),
            reason,
        };
        match kind {
            MatcherKind::Exact => Ok(Matcher::Exact(expression.into())),
            MatcherKind::Legacy => {
                if expression.contains(['{', '}']) {
                    let template = UriTemplate::compile(expression).map_err(invalid)?;
                    Ok(Matcher::Template {
                        expression: expression.into(),
                        template,
                    })
                } else {
                    Ok(Matcher::Exact(expression.into()))
                }
            }
            MatcherKind::UrlPattern => {
                let init = UrlPatternInit::parse_constructor_string::<regex::Regex>(
                    expression,
                    Some(self.base.clone()),
                )
                .map_err(|e| invalid(e.to_string()))?;
                let pattern = UrlPattern::parse(init, UrlPatternOptions::default())
                    .map_err(|e| invalid(e.to_string()))?;
                Ok(Matcher::UrlPattern(Box::new(pattern)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> MatcherCache {
        MatcherCache::new(
            16,
            Url::parse("https://hub.example.com/.well-known/mercure").unwrap(),
        )
    }

    #[test]
    fn table() {
        let cache = cache();
        let cases: &[(MatcherKind, &str, &str, bool)] = &[
            (MatcherKind::Legacy, "*", "anything", true),
            (MatcherKind::Exact, "*", "anything", true),
            (MatcherKind::UrlPattern, "*", "anything", true),
            (MatcherKind::Legacy, "https://a/b", "https://a/b", true),
            (MatcherKind::Legacy, "https://a/b", "https://a/B", false),
            (MatcherKind::Legacy, "https://a/{x}", "https://a/{x}", true),
            (MatcherKind::Legacy, "https://a/{x}", "https://a/1", true),
            (MatcherKind::Legacy, "https://a/{x}", "https://a/1/2", false),
            (MatcherKind::Exact, "https://a/{x}", "https://a/1", false),
            (MatcherKind::Exact, "https://a/:id", "https://a/1", false),
            (MatcherKind::Exact, "/books/1", "/books/1", true),
            (
                MatcherKind::UrlPattern,
                "https://example.com/books/:id",
                "https://example.com/books/1",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/books/:id",
                "https://example.com/books/1/2",
                false,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/books/*",
                "https://example.com/books/1/2",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/books/:id",
                "https://example.org/books/1",
                false,
            ),
            (
                MatcherKind::UrlPattern,
                "https://EXAMPLE.com/books/:id",
                "https://example.com/books/1",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/Books/:id",
                "https://example.com/books/1",
                false,
            ),
            // Relative patterns and topics resolve against the hub URL.
            (MatcherKind::UrlPattern, "/books/:id", "/books/1", true),
            (
                MatcherKind::UrlPattern,
                "/books/:id",
                "https://hub.example.com/books/1",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "/books/:id",
                "https://other.example.com/books/1",
                false,
            ),
            (
                MatcherKind::UrlPattern,
                "/.well-known/mercure/subscriptions/:type/:match/:subscriber",
                "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fa%2Fb/urn%3Auuid%3A1",
                true,
            ),
        ];
        for (kind, expression, topic, expected) in cases {
            let matcher = cache.get(*kind, expression).unwrap();
            assert_eq!(
                matcher.matches(topic, cache.base()),
                *expected,
                "{kind:?} {expression} vs {topic}"
            );
        }
    }

    #[test]
    fn any_topic_of_an_update() {
        let cache = cache();
        let matcher = cache.get(MatcherKind::Exact, "b").unwrap();
        let topics = TopicSet::new(
            Arc::from(["a".to_owned(), "b".to_owned()]),
            cache.base().clone(),
        );
        assert!(matcher.matches_any(&topics));
    }

    #[test]
    fn memoized_results_equal_direct_ones() {
        let cache = cache();
        let topics = TopicSet::new(
            Arc::from(["https://example.com/books/1".to_owned(), "/x".to_owned()]),
            cache.base().clone(),
        );
        let mut memo = MatchMemo::default();
        for (kind, expression) in [
            (MatcherKind::UrlPattern, "https://example.com/books/:id"),
            (MatcherKind::UrlPattern, "/y"),
            (MatcherKind::Legacy, "https://example.com/{a}/{b}"),
            (MatcherKind::Legacy, "/z{/a}"),
            (MatcherKind::Exact, "/x"),
            (MatcherKind::Exact, "*"),
        ] {
            let matcher = cache.get(kind, expression).unwrap();
            let direct = matcher.matches_any(&topics);
            assert_eq!(memo.matches_any(&matcher, &topics), direct, "{expression}");
            assert_eq!(
                memo.matches_any(&matcher, &topics),
                direct,
                "{expression} (memoized)"
            );
        }
    }

    #[test]
    fn compiled_matchers_are_cached() {
        let cache = cache();
        let first = cache.get(MatcherKind::UrlPattern, "/books/:id").unwrap();
        let second = cache.get(MatcherKind::UrlPattern, "/books/:id").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        let other_kind = cache.get(MatcherKind::Exact, "/books/:id").unwrap();
        assert!(!Arc::ptr_eq(&first, &other_kind));
    }

    #[test]
    fn hostile_patterns_never_panic() {
        let cache = cache();
        let inputs = [
            "(",
            ")",
            "{",
            "}",
            ":",
            "*",
            "\\",
            "?",
            "#",
            "https://[",
            "https://[::1",
            "https://a/:id(\\d+)",
            "https://a/(a+)+b",
            "https://a/:a:b",
            "https://a/{:x}?",
            "//",
            "https://a/%zz",
            "https://a/\u{0}",
            "https://a/(?<x>y)",
            "https://a/((((((((((x))))))))))",
            "file:///:p*",
            "data:,x",
            "https://a:99999/",
            "https://a/:\u{e9}",
            "{{{{",
            "https://a/{a|b}",
            "javascript:alert(1)",
            "https://a/(.*)*(.*)*",
        ];
        for input in inputs {
            for kind in [
                MatcherKind::Legacy,
                MatcherKind::Exact,
                MatcherKind::UrlPattern,
            ] {
                if let Ok(matcher) = cache.get(kind, input) {
                    for topic in ["https://a/b", input, "/x", "", "::", "https://[::1]/x"] {
                        let _ = matcher.matches(topic, cache.base());
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_selectors_are_typed_errors() {
        let cache = cache();
        assert!(matches!(
            cache.get(MatcherKind::Legacy, "https://a/{x"),
            Err(Error::InvalidSelector { .. })
        ));
        assert!(matches!(
            cache.get(MatcherKind::UrlPattern, "https://a/(("),
            Err(Error::InvalidSelector { .. })
        ));
    }
}
