//! Topic matchers: compiled selectors, cached, matched against topics.
//!
//! Pattern selectors (0.x URI templates, 1.0 URL patterns) come from
//! clients, anonymous ones included, and compile to regular expressions, so
//! what one may cost is bounded before and while it compiles
//! ([`MatcherLimits`]): its length, the size of every automaton built for
//! it (the `regex` engine stops building once past the limit, so the
//! compile time is bounded too), and the number of them one subscription
//! may hold. The cache of compiled matchers is bounded by an estimate of
//! their bytes, so hostile patterns cannot stay pinned in memory once their
//! subscribers are gone.
//!
//! URL patterns are parsed by the `urlpattern` crate, which would compile
//! each of its components twice with the `regex` crate's default limits (10
//! MiB per automaton); only its parser is used here (through
//! `urlpattern::quirks`, which hands out the regular expressions instead of
//! compiling them), and the matchers are compiled below within the limits.
//! The custom regular expression groups of a pattern (`:id(\d+)`) are
//! checked before the crate sees the pattern, as its parser compiles the
//! protocol component on its own.

use std::sync::{Arc, OnceLock};

use mercure_core::{MatchType, ProtocolVersion, TopicSelector};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use regex_automata::meta;
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_syntax::ast::{self, Ast, ClassSetItem, Flag};
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};
use url::Url;
use urlpattern::quirks::{InnerMatcher as ParsedInner, UrlPatternComponent};
use urlpattern::{UrlPatternInit, UrlPatternOptions};

use crate::Error;
use crate::template::UriTemplate;

/// Bounds on the cost of pattern selectors and on the matcher cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatcherLimits {
    /// Most compiled matchers the cache keeps.
    pub(crate) cache_entries: usize,
    /// Most bytes (estimated) the cached matchers take together.
    pub(crate) cache_bytes: usize,
    /// Most pattern selectors (URI templates, URL patterns) one
    /// subscription may hold.
    pub(crate) max_patterns: usize,
    /// Longest pattern selector, in bytes.
    pub(crate) max_pattern_length: usize,
    /// Largest compiled pattern selector, in bytes (estimate); also the
    /// size limit of every automaton built for one.
    pub(crate) max_pattern_size: usize,
}

impl MatcherLimits {
    /// Default [`MatcherLimits::cache_entries`].
    pub(crate) const CACHE_ENTRIES: usize = 10_000;
    /// Default [`MatcherLimits::cache_bytes`] (64 MiB).
    pub(crate) const CACHE_BYTES: usize = 64 << 20;
    /// Default [`MatcherLimits::max_patterns`].
    pub(crate) const MAX_PATTERNS: usize = 32;
    /// Default [`MatcherLimits::max_pattern_length`].
    pub(crate) const MAX_PATTERN_LENGTH: usize = 1024;
    /// Default [`MatcherLimits::max_pattern_size`] (32 KiB: realistic
    /// patterns take 1 to 10 KiB).
    pub(crate) const MAX_PATTERN_SIZE: usize = 32 << 10;
    /// Most wildcards and groups (`*`, `:name`, `(regex)`: each one a
    /// group of the regular expression a component compiles to) one URL
    /// pattern may hold. Matching a topic costs about its length times the
    /// size of the automaton, which grows with every group: 200 wildcards
    /// (`*://*/***...`, found by the `selector` fuzz target) took 7 ms per
    /// topic within the size limit; realistic patterns use a handful.
    pub(crate) const MAX_PATTERN_GROUPS: usize = 16;
}

impl Default for MatcherLimits {
    fn default() -> Self {
        Self {
            cache_entries: Self::CACHE_ENTRIES,
            cache_bytes: Self::CACHE_BYTES,
            max_patterns: Self::MAX_PATTERNS,
            max_pattern_length: Self::MAX_PATTERN_LENGTH,
            max_pattern_size: Self::MAX_PATTERN_SIZE,
        }
    }
}

impl From<usize> for MatcherLimits {
    /// The default limits with a cache of `cache_entries` matchers.
    fn from(cache_entries: usize) -> Self {
        Self {
            cache_entries,
            ..Self::default()
        }
    }
}

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
    UrlPattern(Box<UrlMatcher>),
}

impl Matcher {
    /// Whether `topics` holds a topic this matcher selects (relative
    /// topics resolved against `base`, the hub URL).
    pub(crate) fn matches_any(&self, topics: &TopicSet, base: &Url) -> bool {
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
            Matcher::UrlPattern(pattern) => topics
                .urls(base)
                .iter()
                .flatten()
                .any(|url| pattern.matches(url)),
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
            Matcher::UrlPattern(pattern) => base.join(topic).is_ok_and(|url| pattern.matches(&url)),
        }
    }

    /// An estimate of the bytes this matcher takes.
    pub(crate) fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self {
                Matcher::Any => 0,
                Matcher::Exact(expression) => expression.len(),
                Matcher::Template {
                    expression,
                    template,
                } => expression.len() + template.size(),
                Matcher::UrlPattern(pattern) => pattern.size,
            }
    }
}

/// A URL pattern compiled for matching: one matcher per URL component, as
/// the `urlpattern` crate builds them (a literal, a single capture, or a
/// regular expression).
#[derive(Debug)]
pub(crate) struct UrlMatcher {
    /// Protocol, username, password, hostname, port, pathname, search and
    /// hash, in that order.
    components: [ComponentMatcher; 8],
    /// Estimated bytes, this struct included.
    size: usize,
}

impl UrlMatcher {
    /// Whether `url` matches every component.
    pub(crate) fn matches(&self, url: &Url) -> bool {
        let inputs = [
            url.scheme(),
            url.username(),
            url.password().unwrap_or_default(),
            url.host_str().unwrap_or_default(),
            url::quirks::port(url),
            url::quirks::pathname(url),
            url.query().unwrap_or_default(),
            url.fragment().unwrap_or_default(),
        ];
        self.components
            .iter()
            .zip(inputs)
            .all(|(component, input)| component.matches(input))
    }
}

/// The matcher of one URL component.
#[derive(Debug)]
struct ComponentMatcher {
    prefix: Box<str>,
    suffix: Box<str>,
    inner: ComponentInner,
}

#[derive(Debug)]
enum ComponentInner {
    /// The input, once stripped of prefix and suffix, equals this.
    Literal(Box<str>),
    /// Any input (non-empty unless `allow_empty`) without `filter`.
    Capture {
        filter: Option<char>,
        allow_empty: bool,
    },
    /// The input matches this (anchored) regular expression.
    Regex(Box<meta::Regex>),
}

impl ComponentMatcher {
    /// What `urlpattern`'s matcher does (case-sensitively, the only way
    /// patterns are compiled here).
    fn matches(&self, input: &str) -> bool {
        let Some(input) = strip(input, &self.prefix, &self.suffix) else {
            return false;
        };
        match &self.inner {
            ComponentInner::Literal(literal) => equal(input, literal),
            ComponentInner::Capture {
                filter,
                allow_empty,
            } => (*allow_empty || !input.is_empty()) && filter.is_none_or(|f| !input.contains(f)),
            ComponentInner::Regex(regex) => regex.is_match(input),
        }
    }

    fn size(&self) -> usize {
        self.prefix.len()
            + self.suffix.len()
            + match &self.inner {
                ComponentInner::Literal(literal) => literal.len(),
                ComponentInner::Capture { .. } => 0,
                ComponentInner::Regex(regex) => regex_size(regex),
            }
    }
}

/// `input` without `prefix` and `suffix`, if it starts and ends with them.
fn strip<'a>(input: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let input = if prefix.is_empty() {
        input
    } else {
        input.strip_prefix(prefix)?
    };
    if suffix.is_empty() {
        Some(input)
    } else {
        input.strip_suffix(suffix)
    }
}

/// Whether `a` equals `b`. Empty strings are told apart first: comparing
/// an empty boxed string (whose pointer dangles) calls `memcmp` on it,
/// which some `memcmp` implementations (AVX-512 masked loads) make take
/// a microsecond.
fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// What the haystacks of a regular expression hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Haystack {
    /// Any text (topics, IRIs included).
    Text,
    /// ASCII only: the components of a parsed URL, whose serialization
    /// percent-encodes (or, for hosts, Punycode-encodes) everything else.
    /// Classes are compiled restricted to ASCII, which matches the same
    /// ASCII text as the full Unicode classes at a fraction of their size
    /// (`\w` is about 40 KiB of automaton in Unicode, a few hundred bytes
    /// in ASCII).
    Ascii,
}

/// Most Unicode classes (`\\pL`, `\\w`, ranges beyond ASCII, ...) one
/// pattern selector's regular expressions may hold: translating one into
/// ranges takes up to some 25 µs (its automaton is bounded by the size
/// limit, not this).
const MAX_UNICODE_CLASSES: usize = 16;

/// Parses `pattern` as the `regex` crate does (Unicode, UTF-8, nesting
/// limited), restricted to `haystack`, once its syntax tree has shown that
/// translating it is cheap (see [`TranslationCost`]).
fn parse(pattern: &str, haystack: Haystack) -> Result<Hir, String> {
    let ast = ast::parse::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    TranslationCost::of(&ast).check()?;
    let hir = regex_syntax::hir::translate::TranslatorBuilder::new()
        .build()
        .translate(pattern, &ast)
        .map_err(|e| e.to_string())?;
    Ok(match haystack {
        Haystack::Text => hir,
        Haystack::Ascii => ascii_only(hir),
    })
}

/// What makes translating a regular expression's syntax tree costly, which
/// the size limit of its automata does not bound: Unicode classes, each a
/// table of up to hundreds of ranges, and above all their case folding
/// (`(?i)[\\w\\W]` takes milliseconds, `(?i)\\w` microseconds).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct TranslationCost {
    /// A case-insensitive flag appears (wherever it applies).
    folds: bool,
    /// Perl classes (`\\w`, `\\d`, `\\s`) outside brackets: Unicode
    /// tables, but closed under case folding already.
    perl: usize,
    /// Unicode classes, Perl classes in brackets, and bracketed ranges
    /// reaching beyond ASCII: Unicode tables that case folding walks.
    wide: usize,
}

impl TranslationCost {
    fn of(ast: &Ast) -> Self {
        let Ok(cost) = ast::visit(ast, CostVisitor::default());
        cost
    }

    /// Whether the classes are all ASCII, none costly at all.
    fn is_ascii(self) -> bool {
        self.perl == 0 && self.wide == 0
    }

    fn check(self) -> Result<(), String> {
        if self.folds && self.wide > 0 {
            return Err(
                "case-insensitive Unicode classes are not supported in topic \
                        selectors (use ASCII ones, such as [a-z0-9])"
                    .into(),
            );
        }
        if self.perl.saturating_add(self.wide) > MAX_UNICODE_CLASSES {
            return Err(format!(
                "a topic selector may hold at most {MAX_UNICODE_CLASSES} Unicode classes"
            ));
        }
        Ok(())
    }
}

/// Computes a [`TranslationCost`] (the walk is the parser's own, on the
/// heap, whatever the nesting).
#[derive(Debug, Default)]
struct CostVisitor {
    cost: TranslationCost,
}

impl ast::Visitor for CostVisitor {
    type Output = TranslationCost;
    type Err = std::convert::Infallible;

    fn finish(self) -> Result<TranslationCost, Self::Err> {
        Ok(self.cost)
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), Self::Err> {
        let flags = match ast {
            Ast::ClassUnicode(_) => {
                self.cost.wide = self.cost.wide.saturating_add(1);
                None
            }
            Ast::ClassPerl(_) => {
                self.cost.perl = self.cost.perl.saturating_add(1);
                None
            }
            Ast::Flags(set) => Some(&set.flags),
            Ast::Group(group) => match &group.kind {
                ast::GroupKind::NonCapturing(flags) => Some(flags),
                _ => None,
            },
            _ => None,
        };
        if flags.is_some_and(|flags| flags.flag_state(Flag::CaseInsensitive).is_some()) {
            self.cost.folds = true;
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Self::Err> {
        let wide = match item {
            ClassSetItem::Unicode(_) | ClassSetItem::Perl(_) => true,
            ClassSetItem::Range(range) => !range.end.c.is_ascii(),
            _ => false,
        };
        if wide {
            self.cost.wide = self.cost.wide.saturating_add(1);
        }
        Ok(())
    }
}

/// `hir`, matching the same ASCII text, with its classes and word
/// boundaries restricted to ASCII. (The depth of recursion is that of the
/// expression, which the parser's nesting limit bounds.)
fn ascii_only(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Class(Class::Unicode(mut class)) => {
            class.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7F')]));
            Hir::class(Class::Unicode(class))
        }
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(match look {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => other,
        }),
        HirKind::Repetition(mut repetition) => {
            repetition.sub = Box::new(ascii_only(*repetition.sub));
            Hir::repetition(repetition)
        }
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(ascii_only(*capture.sub));
            Hir::capture(capture)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(ascii_only).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(ascii_only).collect()),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
    }
}

/// Builds `hir` (a pattern parsed for its haystack) as the `regex` crate
/// would (Unicode, UTF-8, leftmost first), with every automaton limited to
/// `limit` bytes:
/// past it the build stops and the pattern is refused. No capture groups
/// are kept and no DFA is built, lazy or full (matching only asks whether
/// short anchored texts match, which the one-pass DFA or the bounded
/// backtracker answer without the reverse automaton and caches of a lazy
/// DFA; and whether a full DFA is built would depend on the features other
/// crates enable).
pub(crate) fn build_regex(hir: &Hir, limit: usize) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .utf8_empty(true)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(limit))
                .onepass_size_limit(Some(limit))
                .dfa_size_limit(Some(limit))
                .hybrid_cache_capacity(limit)
                .hybrid(false)
                .dfa(false),
        )
        .build_from_hir(hir)
        .map_err(|error| match error.size_limit() {
            Some(limit) => too_large(limit),
            None => error.to_string(),
        })
}

/// An estimate of the bytes `regex` takes: its automata, the structures
/// around them (4.2 KiB with `regex-automata` 0.4, its own search cache
/// included, counted as 4 KiB and a cache), and the cache of another
/// thread searching it at the same time.
pub(crate) fn regex_size(regex: &meta::Regex) -> usize {
    std::mem::size_of::<meta::Regex>()
        + regex.memory_usage()
        + (4 << 10)
        + 2 * std::mem::size_of::<meta::Cache>()
        + regex.create_cache().memory_usage()
}

/// Why a pattern selector past the size limit is refused.
pub(crate) fn too_large(limit: usize) -> String {
    format!("it compiles to more than the {limit} bytes a pattern selector may take")
}

/// Results of pattern matchers for one update, shared by every subscriber
/// the update is offered to: subscribers of a popular pattern share one
/// compiled [`Matcher`] (through [`MatcherCache`]), so it is evaluated once
/// per update instead of once per subscriber. Exact matchers are cheaper
/// to compare than to look up and are not memoized.
#[derive(Debug)]
pub(crate) struct MatchMemo<'a> {
    base: &'a Url,
    results: std::collections::HashMap<usize, bool>,
}

impl<'a> MatchMemo<'a> {
    /// An empty memo for matching one update's topics, relative ones
    /// resolved against `base` (the hub URL).
    pub(crate) fn new(base: &'a Url) -> Self {
        Self {
            base,
            results: std::collections::HashMap::new(),
        }
    }

    /// Whether `matcher` selects one of `topics`, remembered per matcher.
    pub(crate) fn matches_any(&mut self, matcher: &Arc<Matcher>, topics: &TopicSet) -> bool {
        match **matcher {
            Matcher::Any | Matcher::Exact(_) => matcher.matches_any(topics, self.base),
            Matcher::Template { .. } | Matcher::UrlPattern(_) => *self
                .results
                .entry(Arc::as_ptr(matcher) as usize)
                .or_insert_with(|| matcher.matches_any(topics, self.base)),
        }
    }
}

/// The topics of one update, with their URL forms parsed on first need
/// (URL patterns match URLs) and then shared by every matcher.
///
/// A hub resolves every topic against its one URL, so the forms parsed
/// for the first matcher hold for all the others.
#[derive(Debug)]
pub(crate) struct TopicSet {
    topics: Arc<[String]>,
    urls: OnceLock<Box<[Option<Url>]>>,
}

impl TopicSet {
    pub(crate) fn new(topics: Arc<[String]>) -> Self {
        Self {
            topics,
            urls: OnceLock::new(),
        }
    }

    pub(crate) fn topics(&self) -> &Arc<[String]> {
        &self.topics
    }

    fn urls(&self, base: &Url) -> &[Option<Url>] {
        self.urls.get_or_init(|| {
            self.topics
                .iter()
                .map(|topic| base.join(topic).ok())
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

    /// Whether `expression` read as this kind is a pattern (a URI template
    /// or a URL pattern, `*` aside), whose compilation is cost-limited.
    pub(crate) fn is_pattern(self, expression: &str) -> bool {
        expression != "*"
            && match self {
                MatcherKind::Legacy => expression.contains(['{', '}']),
                MatcherKind::Exact => false,
                MatcherKind::UrlPattern => true,
            }
    }
}

type Key = (MatcherKind, Box<str>);

/// A compiled matcher, or why the selector does not compile (remembered
/// too: the lean path hands a request it refuses to the router, which
/// would compile its selectors again).
type Compiled = Result<Arc<Matcher>, Arc<str>>;

/// Weighs cached matchers by their estimated bytes, and at least the
/// share of one entry, so that the cache holds neither more bytes nor
/// more entries than configured.
#[derive(Debug, Clone)]
struct ByteWeighter {
    floor: u64,
}

impl Weighter<Key, Compiled> for ByteWeighter {
    fn weight(&self, key: &Key, compiled: &Compiled) -> u64 {
        let value = match compiled {
            Ok(matcher) => matcher.size(),
            Err(reason) => reason.len(),
        };
        let bytes = std::mem::size_of::<(Key, Compiled)>() + key.1.len() + value;
        u64::try_from(bytes).unwrap_or(u64::MAX).max(self.floor)
    }
}

/// Compiles selectors once and keeps the result for the next request,
/// within [`MatcherLimits`] (the least recently used entries are evicted).
#[derive(Debug)]
pub(crate) struct MatcherCache {
    cache: Cache<Key, Compiled, ByteWeighter>,
    base: Url,
    limits: MatcherLimits,
}

impl MatcherCache {
    /// A cache within `limits` (a number: that many entries, the other
    /// limits by default), resolving relative patterns against `base`.
    pub(crate) fn new(limits: impl Into<MatcherLimits>, base: Url) -> Self {
        let limits = limits.into();
        let entries = limits.cache_entries.max(1);
        let bytes = u64::try_from(limits.cache_bytes).unwrap_or(u64::MAX);
        let floor = (bytes / u64::try_from(entries).unwrap_or(u64::MAX)).max(1);
        Self {
            cache: Cache::with_weighter(entries, bytes, ByteWeighter { floor }),
            base,
            limits,
        }
    }

    /// The URL relative patterns and topics are resolved against.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The limits applied.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "for the hub's metrics, not wired yet")
    )]
    pub(crate) fn limits(&self) -> &MatcherLimits {
        &self.limits
    }

    /// The estimated bytes of the cached matchers (each weighed at least
    /// its share of the entry limit).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "for the hub's metrics, not wired yet")
    )]
    pub(crate) fn weight(&self) -> u64 {
        self.cache.weight()
    }

    /// The number of cached matchers.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "for the hub's metrics, not wired yet")
    )]
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }

    /// Checks the selectors of one subscription against the limit on
    /// pattern selectors, before anything is compiled.
    ///
    /// # Errors
    /// [`Error::InvalidSubscribe`] past [`MatcherLimits::max_patterns`].
    pub(crate) fn check_subscription(
        &self,
        selectors: &[TopicSelector],
        dialect: ProtocolVersion,
    ) -> Result<(), Error> {
        let patterns = selectors
            .iter()
            .filter(|s| MatcherKind::of(s, dialect).is_pattern(s.expression()))
            .count();
        if patterns > self.limits.max_patterns {
            return Err(Error::InvalidSubscribe(format!(
                "at most {} pattern selectors (URI templates, URL patterns) are allowed",
                self.limits.max_patterns
            )));
        }
        Ok(())
    }

    /// The compiled matcher of `expression` read as `kind`.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a selector that does not compile or
    /// exceeds the limits.
    pub(crate) fn get(&self, kind: MatcherKind, expression: &str) -> Result<Arc<Matcher>, Error> {
        if expression == "*" {
            return Ok(Arc::new(Matcher::Any));
        }
        let pattern = kind.is_pattern(expression);
        if pattern && expression.len() > self.limits.max_pattern_length {
            return Err(Error::InvalidSelector {
                selector: abbreviate(expression),
                reason: format!(
                    "a pattern selector is limited to {} bytes",
                    self.limits.max_pattern_length
                ),
            });
        }
        let key = (kind, Box::from(expression));
        let compiled = match self.cache.get(&key) {
            Some(found) => found,
            None => {
                let compiled = if pattern {
                    off_worker(|| self.compile(kind, expression))
                } else {
                    self.compile(kind, expression)
                };
                let compiled = compiled.map(Arc::new).map_err(Arc::from);
                self.cache.insert(key, compiled.clone());
                compiled
            }
        };
        compiled.map_err(|reason| Error::InvalidSelector {
            selector: abbreviate(expression),
            reason: reason.to_string(),
        })
    }

    /// Compiles `expression` read as `kind`, or says why it cannot be.
    fn compile(&self, kind: MatcherKind, expression: &str) -> Result<Matcher, String> {
        let limit = self.limits.max_pattern_size;
        let matcher = match kind {
            MatcherKind::Exact => Matcher::Exact(expression.into()),
            MatcherKind::Legacy if kind.is_pattern(expression) => Matcher::Template {
                expression: expression.into(),
                template: UriTemplate::compile(expression, limit)?,
            },
            MatcherKind::Legacy => Matcher::Exact(expression.into()),
            MatcherKind::UrlPattern => {
                Matcher::UrlPattern(Box::new(self.compile_url_pattern(expression)?))
            }
        };
        if kind.is_pattern(expression) && matcher.size() > limit {
            return Err(too_large(limit));
        }
        Ok(matcher)
    }

    fn compile_url_pattern(&self, expression: &str) -> Result<UrlMatcher, String> {
        let limit = self.limits.max_pattern_size;
        check_brackets(expression)?;
        check_regex_groups(expression, limit)?;
        // `urlpattern` 0.3 panics on some patterns (an `unwrap` in
        // `generate_pattern_string` for `*://*/**\t**`, found by the
        // `selector` fuzz target): a pattern it cannot read is refused,
        // whatever the way it fails.
        let base = self.base.clone();
        let parsed = std::panic::catch_unwind(move || {
            let init =
                UrlPatternInit::parse_constructor_string::<regex::Regex>(expression, Some(base))
                    .map_err(|e| e.to_string())?;
            urlpattern::quirks::parse_pattern(init, UrlPatternOptions::default())
                .map_err(|e| e.to_string())
        })
        .map_err(|_| "the URL pattern parser failed on this pattern".to_owned())??;
        let mut size = std::mem::size_of::<UrlMatcher>();
        let mut groups = 0usize;
        let mut compile = |component: UrlPatternComponent| -> Result<ComponentMatcher, String> {
            let matcher = component.matcher;
            let inner = match matcher.inner {
                ParsedInner::Literal { literal } => ComponentInner::Literal(literal.into()),
                ParsedInner::SingleCapture {
                    filter,
                    allow_empty,
                } => ComponentInner::Capture {
                    filter,
                    allow_empty,
                },
                ParsedInner::RegExp { regexp } => {
                    let hir = parse(&regexp, Haystack::Ascii)?;
                    groups = groups.saturating_add(hir.properties().explicit_captures_len());
                    if groups > MatcherLimits::MAX_PATTERN_GROUPS {
                        return Err(format!(
                            "it holds more than the {} wildcards and groups a URL pattern may hold",
                            MatcherLimits::MAX_PATTERN_GROUPS
                        ));
                    }
                    ComponentInner::Regex(Box::new(build_regex(&hir, limit)?))
                }
            };
            let component = ComponentMatcher {
                prefix: matcher.prefix.into(),
                suffix: matcher.suffix.into(),
                inner,
            };
            size += component.size();
            if size > limit {
                return Err(too_large(limit));
            }
            Ok(component)
        };
        let components = [
            compile(parsed.protocol)?,
            compile(parsed.username)?,
            compile(parsed.password)?,
            compile(parsed.hostname)?,
            compile(parsed.port)?,
            compile(parsed.pathname)?,
            compile(parsed.search)?,
            compile(parsed.hash)?,
        ];
        Ok(UrlMatcher { components, size })
    }
}

/// Runs `compile` so that it does not hold up the other tasks of an async
/// worker thread: on a worker of a multi-threaded tokio runtime, they move
/// to another thread meanwhile (`block_in_place`). Compiling a pattern
/// selector within the default limits takes up to about a millisecond, and
/// a subscription may hold many. (On a current-thread runtime, where
/// `block_in_place` is not allowed, it runs in place.)
fn off_worker<T>(compile: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_threaded = Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi_threaded {
        tokio::task::block_in_place(compile)
    } else {
        compile()
    }
}

/// Refuses a pattern where an unescaped `]` closes no `[` before it:
/// `urlpattern` 0.3's constructor parser counts IPv6 brackets of the
/// hostname in an unsigned integer and subtracts for such a `]`, which
/// panics (overflow checks) or wraps and misreads the rest of the pattern
/// (found by the `selector` fuzz target). Conservative: a `]` anywhere
/// counts, as a bracket in a hostname, a group or a class would.
fn check_brackets(expression: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut bytes = expression.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'\\' => {
                bytes.next();
            }
            b'[' => depth += 1,
            b']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "a ']' without a '[' before it".to_owned())?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// At most 64 characters of `expression`, for error messages.
fn abbreviate(expression: &str) -> String {
    match expression.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &expression[..at]),
        None => expression.to_owned(),
    }
}

/// Most bytes the forward automaton of the regular expression groups that
/// may be part of a URL pattern's protocol may take: the `urlpattern`
/// parser compiles the protocol component itself, up to seven times, in
/// full Unicode and with the `regex` crate's default limits.
const PROTOCOL_GROUPS_LIMIT: usize = 4 << 10;

/// Checks the custom regular expression groups of the URL pattern
/// `expression` (`(\d+)` in `/users/:id(\d+)`) before the `urlpattern`
/// crate compiles any: all of them together, as one automaton for ASCII
/// text limited to `limit` bytes; and those that may be part of the
/// protocol, which the crate compiles itself in full Unicode, to ASCII
/// classes only and [`PROTOCOL_GROUPS_LIMIT`] bytes.
fn check_regex_groups(expression: &str, limit: usize) -> Result<(), String> {
    let (groups, protocol_end) = regex_groups(expression);
    if groups.is_empty() {
        return Ok(());
    }
    let concat = |groups: &mut dyn Iterator<Item = &(usize, &str)>| {
        let mut all = String::with_capacity(expression.len() + 4 * 8);
        for (_, group) in groups {
            all.push_str("(?:");
            all.push_str(group);
            all.push(')');
        }
        all
    };
    forward_automaton(&concat(&mut groups.iter()), limit, Haystack::Ascii)?;
    let mut protocol = groups
        .iter()
        .filter(|(at, _)| protocol_end.is_some_and(|end| *at < end))
        .peekable();
    if protocol.peek().is_some() {
        let protocol = concat(&mut protocol);
        let ascii = ast::parse::ParserBuilder::new()
            .build()
            .parse(&protocol)
            .is_ok_and(|ast| TranslationCost::of(&ast).is_ascii());
        if !ascii {
            return Err("a regular expression in the protocol may only use ASCII classes".into());
        }
        let limit = limit.min(PROTOCOL_GROUPS_LIMIT);
        forward_automaton(&protocol, limit, Haystack::Text).map_err(|_| {
            format!("a regular expression in the protocol may compile to at most {limit} bytes")
        })?;
    }
    Ok(())
}

/// Builds the forward automaton of `pattern` alone, limited to `limit`
/// bytes, to check it.
fn forward_automaton(pattern: &str, limit: usize, haystack: Haystack) -> Result<(), String> {
    let hir =
        parse(pattern, haystack).map_err(|e| format!("invalid regular expression group: {e}"))?;
    thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(limit))
                .shrink(false),
        )
        .build_from_hir(&hir)
        .map(drop)
        .map_err(|error| match error.size_limit() {
            Some(limit) => too_large(limit),
            None => format!("invalid regular expression group: {error}"),
        })
}

/// The regular expression groups of a URL pattern with their byte
/// offsets, found as the `urlpattern` tokenizer finds them (leniently, as
/// its constructor string parser does): a `(` outside of an escape opens
/// one, which ends at its matching `)`; it holds ASCII only, does not
/// start with `?`, and its nested groups start with `?`. A `(` that opens
/// no valid group is a character of its own.
///
/// Also returns the offset of the `:` that ends the protocol, if any: the
/// first one, escaped or not, outside `{}` groups, that does not start a
/// `:name` (any one that may start a name is passed over, so that the
/// protocol found is never shorter than the parser's).
fn regex_groups(input: &str) -> (Vec<(usize, &str)>, Option<usize>) {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut groups = Vec::new();
    let mut protocol_end = None;
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&(at, c)) = chars.get(i) {
        let next = chars.get(i + 1).map(|&(_, c)| c);
        let mut colon = false;
        match c {
            // An escaped character (or, at the end, an invalid one).
            '\\' => {
                colon = next == Some(':');
                i += 2;
            }
            ':' => {
                // A name starts with an ID_Start character, `$` or `_`.
                colon = !next.is_some_and(|c| {
                    !c.is_ascii() || c.is_ascii_alphabetic() || c == '$' || c == '_'
                });
                i += 1;
            }
            '{' => {
                depth += 1;
                i += 1;
            }
            '}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            '(' => match group_end(&chars, i + 1) {
                Some(end) => {
                    // `end` is the index of the closing `)`.
                    groups.push((at, &input[chars[i + 1].0..chars[end].0]));
                    i = end + 1;
                }
                None => i += 1,
            },
            _ => i += 1,
        }
        if colon && depth == 0 && protocol_end.is_none() {
            protocol_end = Some(at);
        }
    }
    (groups, protocol_end)
}

/// The index of the `)` closing the group whose body starts at `start`,
/// if the tokenizer accepts it.
fn group_end(chars: &[(usize, char)], start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut pos = start;
    while let Some(&(_, c)) = chars.get(pos) {
        if !c.is_ascii() || (pos == start && c == '?') {
            return None;
        }
        match c {
            '\\' => {
                if !chars.get(pos + 1)?.1.is_ascii() {
                    return None;
                }
                pos += 2;
                continue;
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return (pos > start).then_some(pos);
                }
            }
            '(' => {
                depth += 1;
                if chars.get(pos + 1)?.1 != '?' {
                    return None;
                }
            }
            _ => {}
        }
        pos += 1;
    }
    None
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
            (
                MatcherKind::UrlPattern,
                "/users/:id(\\d+)",
                "/users/42",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "/users/:id(\\d+)",
                "/users/x",
                false,
            ),
            (
                MatcherKind::UrlPattern,
                "/users/:id(\\d+)/books/:book?",
                "/users/42/books",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/books/:id.json",
                "https://example.com/books/1.json",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/search?q=:q",
                "https://example.com/search?q=cat",
                true,
            ),
            (
                MatcherKind::UrlPattern,
                "https://example.com/search?q=:q",
                "https://example.com/search?q=cat&x=1",
                true,
            ),
            (
                MatcherKind::Legacy,
                "/files/{+rest}",
                "/files/a/b/c.txt",
                true,
            ),
            (MatcherKind::Legacy, "/files/{+rest}", "/other/a", false),
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

    /// The matchers built here from the `urlpattern` parser agree with
    /// the crate's own `UrlPattern::test`.
    #[test]
    fn url_patterns_match_as_the_urlpattern_crate_does() {
        use urlpattern::{UrlPattern, UrlPatternMatchInput};
        let cache = cache();
        let base = cache.base().clone();
        let patterns = [
            "/books/:id",
            "/books/:id?",
            "/books/:id+",
            "/books/:id*",
            "/books/*",
            "/books/*.json",
            "/users/:id(\\d+)",
            "/users/:id(\\d+)+",
            "/users/:id(\\d+)/books/:book?",
            "/a{/b}?/c",
            "/:a-:b",
            "https://example.com/books/:id",
            "https://*.example.com/books/:id",
            "https://:sub.example.com/*",
            "https://example.com:8080/*",
            "http{s}?://example.com/*",
            "https://example.com/search?q=:q",
            "https://example.com/search?*",
            "https://example.com/doc#:section",
            "https://user::pass@example.com/*",
            "urn\\:uuid\\::id",
            "/caf%C3%A9/:x",
            "/(books|authors)/:id",
        ];
        let topics = [
            "/books/1",
            "/books/",
            "/books",
            "/books/1/2",
            "/books/1.json",
            "/users/42",
            "/users/42/43",
            "/users/x",
            "/users/42/books",
            "/users/42/books/7",
            "/a/b/c",
            "/a/c",
            "/x-y",
            "/authors/9",
            "/caf%C3%A9/1",
            "/café/1",
            "https://example.com/books/1",
            "https://www.example.com/books/1",
            "https://example.com:8080/books/1",
            "http://example.com/books/1",
            "https://example.com/search?q=cat",
            "https://example.com/search",
            "https://example.com/doc#intro",
            "https://user:pass@example.com/x",
            "urn:uuid:1234",
            "https://hub.example.com/books/1",
        ];
        for pattern in patterns {
            let init = UrlPatternInit::parse_constructor_string::<regex::Regex>(
                pattern,
                Some(base.clone()),
            )
            .unwrap();
            let reference: UrlPattern = UrlPattern::parse(init, UrlPatternOptions::default())
                .unwrap_or_else(|e| panic!("{pattern}: {e}"));
            let ours = cache.get(MatcherKind::UrlPattern, pattern).unwrap();
            for topic in topics {
                let Ok(url) = base.join(topic) else { continue };
                let expected = reference
                    .test(UrlPatternMatchInput::Url(url))
                    .unwrap_or(false);
                assert_eq!(ours.matches(topic, &base), expected, "{pattern} vs {topic}");
            }
        }
    }

    /// `urlpattern` 0.3 subtracts for a hostname's `]` without a `[`
    /// (a panic with overflow checks): refused before it is reached.
    #[test]
    fn a_closing_bracket_without_an_opening_one_is_refused() {
        let cache = cache();
        for pattern in [
            "https:]//*.example\u{3}/books/:id*",
            "https://]example.com/*",
            "https://[::1]]/*",
        ] {
            assert!(
                cache.get(MatcherKind::UrlPattern, pattern).is_err(),
                "{pattern}"
            );
        }
        // Refused without a panic: `urlpattern` 0.3 unwraps a `None` here.
        assert!(cache.get(MatcherKind::UrlPattern, "*://*/**\t**").is_err());
    }

    #[test]
    fn url_patterns_hold_a_bounded_number_of_wildcards_and_groups() {
        let cache = cache();
        let many = format!("*://*/{}", "*".repeat(200));
        let error = cache.get(MatcherKind::UrlPattern, &many).unwrap_err();
        assert!(
            error.to_string().contains("wildcards and groups"),
            "{error}"
        );
        let interleaved = format!("https://example.com/{}", "a*".repeat(17));
        assert!(cache.get(MatcherKind::UrlPattern, &interleaved).is_err());
        // Up to the bound, in any component.
        let names: String = (1..=15).map(|i| format!(":p{i}/")).collect();
        let bounded = format!("https://*.example.com/{names}");
        assert!(
            cache.get(MatcherKind::UrlPattern, &bounded).is_ok(),
            "{bounded}"
        );
        for pattern in ["/books/:id", "https://*.example.com/books/:id"] {
            assert!(
                cache.get(MatcherKind::UrlPattern, pattern).is_ok(),
                "{pattern}"
            );
        }
    }

    #[test]
    fn any_topic_of_an_update() {
        let cache = cache();
        let matcher = cache.get(MatcherKind::Exact, "b").unwrap();
        let topics = TopicSet::new(Arc::from(["a".to_owned(), "b".to_owned()]));
        assert!(matcher.matches_any(&topics, cache.base()));
    }

    #[test]
    fn memoized_results_equal_direct_ones() {
        let cache = cache();
        let topics = TopicSet::new(Arc::from([
            "https://example.com/books/1".to_owned(),
            "/x".to_owned(),
        ]));
        let mut memo = MatchMemo::new(cache.base());
        for (kind, expression) in [
            (MatcherKind::UrlPattern, "https://example.com/books/:id"),
            (MatcherKind::UrlPattern, "/y"),
            (MatcherKind::Legacy, "https://example.com/{a}/{b}"),
            (MatcherKind::Legacy, "/z{/a}"),
            (MatcherKind::Exact, "/x"),
            (MatcherKind::Exact, "*"),
        ] {
            let matcher = cache.get(kind, expression).unwrap();
            let direct = matcher.matches_any(&topics, cache.base());
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
            "(\\",
            "(a\\",
            "(a(",
            "(a(?",
            "(a(b))",
            "(\u{e9})",
            "(\\\u{e9})",
            "(?a)",
            "()",
            "\\(\\w{99999})",
            "(\\w{200}):(\\w{200})//(\\w{200})",
            "(\\w{200})://a/",
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

    /// URL patterns are compiled for ASCII text: the components of a URL,
    /// IRIs included, are.
    #[test]
    fn url_components_are_ascii() {
        let base = Url::parse("https://hub.example.com/.well-known/mercure").unwrap();
        for topic in [
            "https://例え.jp/café/ü?q=ß&r=日本#片",
            "https://usér:pâss@example.com:8443/é",
            "urn:ü:é",
            "mailto:josé@example.com",
            "/relative/ü",
            "https://[::1]/é",
            "data:text/plain,é",
        ] {
            let url = base.join(topic).unwrap();
            for component in [
                url.scheme(),
                url.username(),
                url.password().unwrap_or_default(),
                url.host_str().unwrap_or_default(),
                url::quirks::port(&url),
                url::quirks::pathname(&url),
                url.query().unwrap_or_default(),
                url.fragment().unwrap_or_default(),
            ] {
                assert!(component.is_ascii(), "{topic}: {component}");
            }
        }
    }

    #[test]
    fn regex_groups_are_found_as_the_tokenizer_finds_them() {
        let cases: &[(&str, &[&str], Option<usize>)] = &[
            ("/books/:id", &[], None),
            ("/users/:id(\\d+)", &["\\d+"], None),
            ("/a/(x)/(y)", &["x", "y"], None),
            ("/a/\\(x)", &[], None),
            ("/a/((?:x)y)", &["(?:x)y"], None),
            // The outer `(` opens no valid group: the inner one does.
            ("/a/((x))", &["x"], None),
            ("/a/(\\))", &["\\)"], None),
            ("/a/()", &[], None),
            ("/a/(?x)", &[], None),
            ("/a/(x", &[], None),
            ("/a/(\u{e9})(b)", &["b"], None),
            ("(a)://(b)/(c)?(d)#(e)", &["a", "b", "c", "d", "e"], Some(3)),
            ("https://a.example/:id(x)", &["x"], Some(5)),
            ("https://(x).example:8080/:id(y)", &["x", "y"], Some(5)),
            ("urn\\:uuid\\::id(x)", &["x"], Some(3)),
            ("/a(x):(y)", &["x", "y"], Some(5)),
            ("{(x):}(y):", &["x", "y"], Some(9)),
            ("(x):\u{e9}(y):1", &["x", "y"], Some(9)),
        ];
        for (input, groups, protocol_end) in cases {
            let (found, end) = regex_groups(input);
            let found: Vec<&str> = found.into_iter().map(|(_, group)| group).collect();
            assert_eq!(found, *groups, "{input}");
            assert_eq!(end, *protocol_end, "{input}");
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

    /// The shape of the attack: URL patterns of a few bytes whose custom
    /// groups compile to megabytes, and templates of many expressions.
    fn hostile(i: usize) -> [(MatcherKind, String); 8] {
        [
            (MatcherKind::UrlPattern, format!("/p{i}/:a(\\w{{200}})")),
            (MatcherKind::UrlPattern, format!("/p{i}/:a(\\w{{20}})+")),
            (
                MatcherKind::UrlPattern,
                format!("/p{i}/(\\pL{{30}})(\\pL{{30}})"),
            ),
            (
                MatcherKind::UrlPattern,
                format!("(\\w{{60}})://p{i}/(\\w{{60}})"),
            ),
            (
                MatcherKind::UrlPattern,
                format!("/p{i}/((?:(?:a{{100}}){{100}}){{100}})"),
            ),
            (
                MatcherKind::UrlPattern,
                format!("/p{i}/:a(\\w{{9}})/:b(\\w{{9}})/:c(\\w{{9}})/:d(\\w{{9}})"),
            ),
            (MatcherKind::Legacy, format!("/p{i}{}", "{+a}".repeat(250))),
            (
                MatcherKind::Legacy,
                format!("/p{i}{}", "{+a,b,c,d}".repeat(100)),
            ),
        ]
    }

    #[test]
    fn hostile_patterns_are_refused_within_the_limits() {
        let cache = cache();
        let limits = *cache.limits();
        for (kind, expression) in hostile(0) {
            match cache.get(kind, &expression) {
                Err(Error::InvalidSelector { reason, .. }) => {
                    assert!(!reason.is_empty(), "{expression}");
                }
                Err(other) => panic!("{expression}: {other}"),
                Ok(matcher) => assert!(
                    matcher.size() <= limits.max_pattern_size,
                    "{expression}: {} bytes",
                    matcher.size()
                ),
            }
        }
    }

    #[test]
    fn long_patterns_are_refused_before_compiling() {
        let cache = cache();
        let long = format!("/{}", "a".repeat(MatcherLimits::MAX_PATTERN_LENGTH));
        let error = cache.get(MatcherKind::UrlPattern, &long).unwrap_err();
        let Error::InvalidSelector { selector, reason } = error else {
            panic!("{error}");
        };
        assert!(reason.contains("limited to 1024 bytes"), "{reason}");
        assert!(selector.len() < 100, "the selector is abbreviated");
        // Exact selectors are not patterns.
        assert!(cache.get(MatcherKind::Exact, &long).is_ok());
        assert!(cache.get(MatcherKind::Legacy, &long).is_ok());
        assert!(
            cache
                .get(MatcherKind::Legacy, &format!("{long}{{x}}"))
                .is_err()
        );
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        let limits = MatcherLimits {
            cache_bytes: 4 << 20,
            ..MatcherLimits::default()
        };
        let cache = MatcherCache::new(
            limits,
            Url::parse("https://hub.example.com/.well-known/mercure").unwrap(),
        );
        for i in 0..256 {
            for (kind, expression) in hostile(i) {
                let _ = cache.get(kind, &expression);
            }
            // Patterns within the limits, compiling to as much as they may.
            let near = [
                (MatcherKind::UrlPattern, format!("/q{i}/:a(\\w{{50}})")),
                (MatcherKind::Legacy, format!("/q{i}{}", "{+a}".repeat(12))),
            ];
            for (kind, expression) in near {
                let matcher = cache.get(kind, &expression).unwrap();
                assert!(matcher.size() > limits.max_pattern_size / 3, "{expression}");
            }
            assert!(
                cache.weight() <= limits.cache_bytes as u64,
                "{} bytes cached",
                cache.weight()
            );
        }
        assert!(cache.len() > 0);
    }

    #[test]
    fn the_cache_keeps_at_most_its_entries() {
        let cache = MatcherCache::new(
            64,
            Url::parse("https://hub.example.com/.well-known/mercure").unwrap(),
        );
        for i in 0..1000 {
            cache
                .get(MatcherKind::UrlPattern, &format!("/books{i}/:id"))
                .unwrap();
        }
        assert!(cache.len() <= 64, "{} entries", cache.len());
    }

    #[test]
    fn pattern_selectors_per_subscription_are_limited() {
        let cache = cache();
        let max = cache.limits().max_patterns;
        let patterns: Vec<TopicSelector> = (0..=max)
            .map(|i| TopicSelector::pattern(format!("/books{i}/:id")))
            .collect();
        assert!(matches!(
            cache.check_subscription(&patterns, ProtocolVersion::V1),
            Err(Error::InvalidSubscribe(_))
        ));
        assert!(
            cache
                .check_subscription(&patterns[..max], ProtocolVersion::V1)
                .is_ok()
        );
        // Exact selectors and `*` do not count.
        let exact: Vec<TopicSelector> = (0..=max)
            .map(|i| TopicSelector::exact(format!("/books/{i}")))
            .chain([TopicSelector::pattern("*")])
            .collect();
        assert!(
            cache
                .check_subscription(&exact, ProtocolVersion::V1)
                .is_ok()
        );
        assert!(
            cache
                .check_subscription(&exact, ProtocolVersion::V0)
                .is_ok()
        );
        let templates: Vec<TopicSelector> = (0..=max)
            .map(|i| TopicSelector::exact(format!("/books/{i}/{{id}}")))
            .collect();
        assert!(
            cache
                .check_subscription(&templates, ProtocolVersion::V0)
                .is_err()
        );
    }

    /// Through the hub: 256 subscriptions of hostile patterns from as many
    /// clients, each gone at once, leave no more in the hub's matcher cache
    /// than its byte budget.
    #[tokio::test]
    async fn the_hubs_matcher_cache_stays_within_its_byte_budget() {
        use crate::{EmbeddedHub, HubConfig, SubscribeRequest};
        let budget = 2 << 20;
        let hub = EmbeddedHub::new(
            HubConfig::builder()
                .matcher_cache_bytes(budget)
                .build()
                .unwrap(),
        );
        let mut refused = 0;
        for i in 0..256 {
            let selectors = hostile(i)
                .into_iter()
                .filter(|(kind, _)| *kind == MatcherKind::UrlPattern)
                .map(|(_, expression)| TopicSelector::pattern(expression))
                .chain([TopicSelector::pattern(format!("/q{i}/:a(\\w{{50}})"))]);
            for selector in selectors {
                let request = SubscribeRequest::new([selector]).dialect(ProtocolVersion::V1);
                match hub.subscribe(request).await {
                    Ok(subscription) => drop(subscription),
                    Err(Error::InvalidSelector { .. }) => refused += 1,
                    Err(other) => panic!("{other}"),
                }
            }
            let matchers = &hub.inner.matchers;
            assert!(
                matchers.weight() <= budget as u64,
                "{} bytes",
                matchers.weight()
            );
        }
        assert!(refused >= 256, "the hostile patterns are refused");
        assert!(hub.inner.matchers.len() > 0);
    }
}
