//! Narrow entry points into private parsers, for the fuzz targets of
//! `fuzz/` (outside the workspace) only: not part of the API, hidden from
//! the documentation, and free to change with the internals they reach.
//!
//! The publish form parser and the selector matchers are private to the
//! hub; driving them through its router would bury them under a token
//! check, a body reader and dispatch on every input. These functions run
//! exactly the code a request reaches, and nothing else.

use std::sync::Arc;

use mercure_core::{ProtocolVersion, TopicSelector, Update};
use url::Url;

use crate::EmbeddedHub;
use crate::matcher::{Matcher, MatcherCache, MatcherKind, TopicSet};

/// A publish request's body read as the hub reads it: the form parsed
/// (within the hub's topic limit), then the update validated by the hub's
/// publish rules (its dialect, its reserved topics).
///
/// # Errors
/// The hub's message for a body it would refuse with a 400 or 403.
pub fn publish_form(hub: &EmbeddedHub, body: &[u8]) -> Result<Update, String> {
    let update =
        crate::http::parse_form(body, hub.config().max_topics).map_err(|e| e.to_string())?;
    hub.inner.validate(&update).map_err(|e| e.to_string())?;
    Ok(update)
}

/// A selector compiled as a subscription's or a token's selector of
/// `version` is, within the hub's default limits.
#[derive(Debug)]
pub struct CompiledSelector {
    matcher: Arc<Matcher>,
    base: Url,
}

/// Compiles `selector` read in `version`, relative patterns and topics
/// resolved against `base` (the hub URL).
///
/// # Errors
/// The hub's message for a selector it refuses.
pub fn compile_selector(
    selector: &TopicSelector,
    version: ProtocolVersion,
    base: &Url,
) -> Result<CompiledSelector, String> {
    let cache = MatcherCache::new(1, base.clone());
    let matcher = cache
        .get(MatcherKind::of(selector, version), selector.expression())
        .map_err(|e| e.to_string())?;
    Ok(CompiledSelector {
        matcher,
        base: base.clone(),
    })
}

impl CompiledSelector {
    /// Whether the selector selects `topic` (what a subscription does for
    /// each topic of an update).
    pub fn matches(&self, topic: &str) -> bool {
        self.matcher.matches(topic, &self.base)
    }

    /// Whether the selector selects one of `topics` (the path an update's
    /// topics take, resolved once for every matcher).
    pub fn matches_any(&self, topics: &[String]) -> bool {
        self.matcher
            .matches_any(&TopicSet::new(Arc::from(topics)), &self.base)
    }

    /// Whether the selector selects `topic`, with a URI template's
    /// prefix and suffix shortcut left out (its regular expression alone);
    /// `None` for a selector that is not a URI template.
    pub fn template_matches_fully(&self, topic: &str) -> Option<bool> {
        match &*self.matcher {
            Matcher::Template {
                expression,
                template,
            } => Some(topic == &**expression || template.is_match_without_shortcut(topic)),
            _ => None,
        }
    }
}
