//! `selector`: topic selectors compiled and matched as the hub does
//! (`mercure_hub::fuzzing::compile_selector`: its matcher cache's
//! compilation, within its default limits): 0.x selectors (exact topics,
//! `*`, RFC 6570 URI templates) and 1.0 ones (`match` exact,
//! `match_urlpattern` WHATWG URL patterns).
//!
//! Input: a first byte choosing the dialect (bit 0: 1.0) and, in 1.0, the
//! match type (bit 1: URL pattern), then lines (LF): the selector, then up
//! to 16 topics. Checks:
//!
//! - no panic, and compiling plus matching every topic within
//!   [`BUDGET`] (`SELECTOR_BUDGET_MS` sets another) (the slowest input so far, from 1 ms on, is printed as it
//!   is found);
//! - an exact selector matches exactly its own text (and `*` everything);
//! - a URI template matches a topic exactly when its regular expression
//!   alone does (its prefix and suffix shortcut changes no answer), and
//!   matches its own text;
//! - a URL pattern the hub compiles matches exactly the topics that the
//!   `urlpattern` crate's own `UrlPattern::test` matches (resolved
//!   against the hub URL);
//! - matching all topics at once (an update's path) answers as matching
//!   them one by one does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mercure_core::{ProtocolVersion, TopicSelector};
use mercure_hub::fuzzing::compile_selector;
use url::Url;
use urlpattern::{UrlPattern, UrlPatternInit, UrlPatternMatchInput, UrlPatternOptions};

use crate::shown;

/// The most one input may take, compiling and matching: generous, as the
/// hub compiles a pattern in about a millisecond at most. An unoptimized
/// build (the stable replay of `tests/replay.rs`) gets twenty times more.
pub const BUDGET: Duration = if cfg!(debug_assertions) && !cfg!(feature = "libfuzzer") {
    Duration::from_secs(2)
} else {
    Duration::from_millis(100)
};

/// The hub URL, which relative patterns and topics resolve against.
const HUB: &str = "https://example.com/.well-known/mercure";

/// The slowest input so far, and how long it took.
static SLOWEST: Mutex<Duration> = Mutex::new(Duration::ZERO);

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let expression = lines.next().unwrap_or_default();
    let topics: Vec<String> = lines.take(16).map(str::to_owned).collect();
    let (version, selector) = match mode & 3 {
        0 | 2 => (ProtocolVersion::V0, TopicSelector::exact(expression)),
        1 => (ProtocolVersion::V1, TopicSelector::exact(expression)),
        _ => (ProtocolVersion::V1, TopicSelector::pattern(expression)),
    };
    let base = Url::parse(HUB).expect("the hub URL");

    let started = Instant::now();
    let compiled = compile_selector(&selector, version, &base);
    let compile_took = started.elapsed();
    let matched: Vec<bool> = match &compiled {
        Ok(compiled) => topics.iter().map(|t| compiled.matches(t)).collect(),
        Err(_) => Vec::new(),
    };
    let any = compiled.as_ref().ok().map(|c| c.matches_any(&topics));
    let took = started.elapsed();
    {
        let mut slowest = SLOWEST.lock().unwrap_or_else(|e| e.into_inner());
        if took > *slowest {
            *slowest = took;
            if took >= Duration::from_millis(1) {
                eprintln!(
                    "selector: slowest so far {took:?} ({version} {:?}, {} topics): \"{}\"",
                    selector.match_type(),
                    topics.len(),
                    shown(expression.as_bytes())
                );
            }
        }
    }
    let budget = std::env::var("SELECTOR_BUDGET_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(BUDGET, Duration::from_millis);
    assert!(
        took <= budget,
        "compiling and matching took {took:?} (compiling {compile_took:?}; more than {budget:?}): \
         {version} {:?} \"{}\"",
        selector.match_type(),
        shown(rest)
    );
    let Ok(compiled) = compiled else { return };
    assert_eq!(
        any,
        Some(matched.iter().any(|&m| m)),
        "matching all topics at once differs: \"{}\"",
        shown(rest)
    );
    let is_pattern = version == ProtocolVersion::V1 && mode & 3 == 3;
    if expression == "*" {
        assert!(matched.iter().all(|&m| m), "`*` matches everything");
        return;
    }
    if !is_pattern {
        // Exact or, in 0.x, possibly a URI template: matches its own text.
        assert!(
            compiled.matches(expression),
            "\"{expression}\" must match itself"
        );
    }
    for (topic, &matched) in topics.iter().zip(&matched) {
        match compiled.template_matches_fully(topic) {
            Some(full) => assert_eq!(
                matched,
                full,
                "the template shortcut changes the answer for topic \"{topic}\": \"{}\"",
                shown(expression.as_bytes())
            ),
            None if !is_pattern => assert_eq!(
                matched,
                topic == expression,
                "an exact selector: \"{}\" vs \"{topic}\"",
                shown(expression.as_bytes())
            ),
            None => {}
        }
    }
    if is_pattern {
        let Ok(init) = UrlPatternInit::parse_constructor_string::<regex::Regex>(
            expression,
            Some(base.clone()),
        ) else {
            panic!("the hub compiles a pattern the urlpattern parser refuses: \"{expression}\"");
        };
        let Ok(reference) = <UrlPattern>::parse(init, UrlPatternOptions::default()) else {
            // The `regex` crate refuses some of the pattern's groups (the
            // hub parses them itself, restricted to ASCII).
            return;
        };
        for (topic, &matched) in topics.iter().zip(&matched) {
            let Ok(url) = base.join(topic) else {
                assert!(!matched, "a topic that is no URL matched \"{expression}\"");
                continue;
            };
            let expected = reference
                .test(UrlPatternMatchInput::Url(url))
                .unwrap_or(false);
            assert_eq!(
                matched, expected,
                "the hub and the urlpattern crate disagree: pattern \"{expression}\", topic \"{topic}\""
            );
        }
    }
}
