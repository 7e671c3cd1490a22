//! Privacy as a property of one in-process hub (memory transport, both
//! dialects): over random updates (canonical topic and alternates, public
//! or private, published in-process or over HTTP) and random subscribers,
//! every subscriber receives exactly the updates the oracle of
//! `support/privacy.rs` allows: a private update never reaches a
//! subscriber not authorized for one of its topics, a public one always
//! reaches every subscriber one of whose selectors picks one of its
//! topics.
//!
//! A subscriber has random selectors (exact topics, `*`, 0.x URI
//! templates, 1.0 URL patterns absolute or relative to the hub), speaks
//! 0.x (`topic=`) or 1.0 (`match=`, `match_exact=`, `match_urlpattern=`,
//! by `GET` or by `QUERY` with the selectors split between the query string
//! and the body), and is anonymous, holds a 0.x token (`mercure.subscribe`)
//! or a 1.0 access token (`authorization_details` mixing Mercure details,
//! short-typed `mercure` details, other applications' details and
//! publish-only ones) presented as a bearer header, a cookie or (0.x) the
//! `authorization` query parameter, or is an in-process subscriber with
//! the private access its server grants. It joins at a random point of the
//! publishing, live or resuming (`earliest`, an unknown id, the id of an
//! update already published; as the `Last-Event-ID` header or the query
//! parameter). The hub accepts 0.x tokens for 1.0 requests, and short
//! detail types, or not; a 0.x token on a 1.0 request of a hub that does
//! not accept it must be refused with 401.
//!
//! Some hubs publish subscription events (private updates of their own,
//! under `/.well-known/mercure/subscriptions`): a subscriber receiving one
//! must be authorized for it too.
//!
//! A second property: any topic the hub accepts is picked by itself as an
//! exact selector (`match=`, `match_exact=`, 0.x `topic=`, in process) and
//! by `*`, its private updates reaching a subscriber granted exactly it.
//!
//! Requests go through the hub's router in-process (no sockets), so a
//! case takes milliseconds; `PROPTEST_CASES` sets the number of cases (128
//! by default). A failing case is shrunk to a small one.

#[path = "support/privacy.rs"]
mod privacy;
#[path = "support/stream_ids.rs"]
mod stream_ids;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use futures_util::Stream;
use mercure_core::token::{SigningKey, TokenFactory};
use mercure_core::{ProtocolVersion, TopicSelector, Update};
use mercure_hub::{EmbeddedHub, HubConfig, PrivateAccess, SubscribeRequest, VerificationKey};
use privacy::{Access, Published, Selector, Wanted};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const ISSUER: &str = "https://app.example.com";
const HUB_URL: &str = "https://example.com/.well-known/mercure";
const HUB_PATH: &str = "/.well-known/mercure";
/// What relative URL patterns are resolved against.
const ORIGIN: &str = "https://example.com";
/// The topic of the public update closing every stream (never generated).
const END_TOPIC: &str = "urn:example:end";
/// How long a stream may stay silent before the case fails.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- cases

/// A topic: an `https` URL of one to three path segments, or a URN. The
/// pools are small so that topics share prefixes (which patterns pick).
#[derive(Debug, Clone)]
enum Topic {
    Url {
        host: &'static str,
        path: Vec<&'static str>,
    },
    Urn(&'static str),
}

impl Topic {
    fn text(&self) -> String {
        match self {
            Topic::Url { host, path } => format!("https://{host}/{}", path.join("/")),
            Topic::Urn(name) => format!("urn:example:{name}"),
        }
    }
}

fn topic() -> impl Strategy<Value = Topic> {
    let segment = select(vec!["a", "users", "1", "x-y", "B~c", "%C3%A9"]);
    prop_oneof![
        4 => (
            prop_oneof![3 => Just("example.com"), 1 => Just("example.org")],
            prop::collection::vec(segment.clone(), 1..=3),
        )
            .prop_map(|(host, path)| Topic::Url { host, path }),
        1 => segment.prop_map(Topic::Urn),
    ]
}

/// The shape of a selector; the dialect reading it decides its syntax.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `*`.
    All,
    /// The topic itself.
    Exact,
    /// One segment (the URN's name) left open: `{v}` in 0.x, `:v` in 1.0.
    Segment,
    /// The path from a segment on left open: `{+rest}` in 0.x, `*` in 1.0.
    Tail,
}

/// A selector: a shape applied to a topic at a segment.
#[derive(Debug, Clone)]
struct SelectorSpec {
    shape: Shape,
    topic: Topic,
    at: usize,
    /// A 1.0 URL pattern on the hub's origin is written relative to it.
    relative: bool,
}

fn selector_spec(universe: &[Topic]) -> impl Strategy<Value = SelectorSpec> + use<> {
    (
        prop_oneof![
            1 => Just(Shape::All),
            4 => Just(Shape::Exact),
            2 => Just(Shape::Segment),
            2 => Just(Shape::Tail),
        ],
        select(universe.to_vec()),
        0..3_usize,
        any::<bool>(),
    )
        .prop_map(|(shape, topic, at, relative)| SelectorSpec {
            shape,
            topic,
            at,
            relative,
        })
}

impl SelectorSpec {
    /// The selector as `dialect` spells it.
    fn selector(&self, dialect: ProtocolVersion) -> Selector {
        let v0 = dialect == ProtocolVersion::V0;
        match (&self.shape, &self.topic) {
            (Shape::All, _) => Selector::All,
            (Shape::Exact, topic) => Selector::Exact(topic.text()),
            (Shape::Segment | Shape::Tail, Topic::Urn(_)) if v0 => {
                Selector::Template("urn:example:{v}".into())
            }
            // No URL pattern over URNs.
            (_, topic @ Topic::Urn(_)) => Selector::Exact(topic.text()),
            (shape, Topic::Url { host, path }) => {
                let at = self.at % path.len();
                let mut parts: Vec<&str> = path[..at].to_vec();
                match (shape, v0) {
                    (Shape::Segment, true) => parts.push("{v}"),
                    (Shape::Segment, false) => parts.push(":v"),
                    (_, true) => parts.push("{+rest}"),
                    (_, false) => parts.push("*"),
                }
                if matches!(shape, Shape::Segment) {
                    parts.extend_from_slice(&path[at + 1..]);
                }
                let path = parts.join("/");
                if v0 {
                    Selector::Template(format!("https://{host}/{path}"))
                } else if self.relative && *host == "example.com" {
                    Selector::UrlPattern(format!("/{path}"))
                } else {
                    Selector::UrlPattern(format!("https://{host}/{path}"))
                }
            }
        }
    }
}

/// Who issued an authorization detail of a 1.0 token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DetailType {
    /// `https://mercure.rocks/authorization-detail`.
    Mercure,
    /// `mercure`: grants only when the hub accepts the short type.
    Short,
    /// Another application's: never grants.
    Other,
}

#[derive(Debug, Clone)]
struct DetailSpec {
    kind: DetailType,
    subscribe: bool,
    publish: bool,
    topics: Vec<SelectorSpec>,
    /// Exact topics spelled with `"match_type": "exact"`.
    explicit_exact: bool,
}

fn detail_spec(universe: &[Topic]) -> impl Strategy<Value = DetailSpec> + use<> {
    (
        prop_oneof![
            4 => Just(DetailType::Mercure),
            1 => Just(DetailType::Short),
            1 => Just(DetailType::Other),
        ],
        prop_oneof![3 => Just(true), 1 => Just(false)],
        any::<bool>(),
        prop::collection::vec(selector_spec(universe), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(kind, subscribe, publish, topics, explicit_exact)| DetailSpec {
                kind,
                subscribe,
                publish,
                topics,
                explicit_exact,
            },
        )
}

#[derive(Debug, Clone)]
enum TokenSpec {
    /// `mercure.subscribe`.
    V0(Vec<SelectorSpec>),
    /// `authorization_details`.
    V1(Vec<DetailSpec>),
}

impl TokenSpec {
    fn dialect(&self) -> ProtocolVersion {
        match self {
            TokenSpec::V0(_) => ProtocolVersion::V0,
            TokenSpec::V1(_) => ProtocolVersion::V1,
        }
    }

    /// The selectors this token authorizes for private updates.
    fn grants(&self, accept_short: bool) -> Vec<Selector> {
        match self {
            TokenSpec::V0(selectors) => selectors
                .iter()
                .map(|s| s.selector(ProtocolVersion::V0))
                .collect(),
            TokenSpec::V1(details) => details
                .iter()
                .filter(|d| {
                    d.subscribe
                        && (d.kind == DetailType::Mercure
                            || (d.kind == DetailType::Short && accept_short))
                })
                .flat_map(|d| &d.topics)
                .map(|s| s.selector(ProtocolVersion::V1))
                .collect(),
        }
    }

    /// The signed token.
    fn sign(&self) -> String {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        let claims = match self {
            TokenSpec::V0(selectors) => json!({
                "exp": exp,
                "sub": "someone",
                "mercure": {"subscribe": selectors
                    .iter()
                    .map(|s| s.selector(ProtocolVersion::V0).expression().to_owned())
                    .collect::<Vec<_>>()},
            }),
            TokenSpec::V1(details) => json!({
                "iss": ISSUER,
                "aud": HUB_URL,
                "exp": exp,
                "sub": "someone",
                "authorization_details": details.iter().map(detail_claim).collect::<Vec<_>>(),
            }),
        };
        factory(self.dialect())
            .sign(&claims)
            .unwrap()
            .expose()
            .to_owned()
    }
}

fn detail_claim(detail: &DetailSpec) -> Value {
    let kind = match detail.kind {
        DetailType::Mercure => "https://mercure.rocks/authorization-detail",
        DetailType::Short => "mercure",
        DetailType::Other => "https://other.example/authorization-detail",
    };
    let mut actions = Vec::new();
    if detail.subscribe {
        actions.push("subscribe");
    }
    if detail.publish {
        actions.push("publish");
    }
    let topics: Vec<Value> = detail
        .topics
        .iter()
        .map(|s| match s.selector(ProtocolVersion::V1) {
            Selector::UrlPattern(p) => json!({"match": p, "match_type": "urlpattern"}),
            other if detail.explicit_exact => {
                json!({"match": other.expression(), "match_type": "exact"})
            }
            other => json!({"match": other.expression()}),
        })
        .collect();
    json!({"type": kind, "actions": actions, "topics": topics})
}

fn token_spec(universe: &[Topic]) -> impl Strategy<Value = TokenSpec> + use<> {
    prop_oneof![
        prop::collection::vec(selector_spec(universe), 0..3).prop_map(TokenSpec::V0),
        prop::collection::vec(detail_spec(universe), 0..4).prop_map(TokenSpec::V1),
    ]
}

/// Where a token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presentation {
    Bearer,
    Cookie,
    /// The 0.x `authorization` query parameter (a bearer header for a 1.0
    /// token, which may not travel there).
    QueryParam,
}

#[derive(Debug, Clone)]
enum Client {
    /// Over HTTP, through the router: `GET`, or `QUERY` (1.0 only; a 0.x
    /// request uses `GET`) with the selectors whose bit is set in `split`
    /// in the body.
    Http {
        query_method: bool,
        split: u8,
        token: Option<(TokenSpec, Presentation)>,
    },
    /// In process, with the access its server grants (`None`: all).
    Embedded { access: Option<Vec<SelectorSpec>> },
}

fn client(universe: &[Topic]) -> impl Strategy<Value = Client> + use<> {
    prop_oneof![
        3 => (
            any::<bool>(),
            any::<u8>(),
            prop::option::weighted(
                0.8,
                (
                    token_spec(universe),
                    prop_oneof![
                        3 => Just(Presentation::Bearer),
                        1 => Just(Presentation::Cookie),
                        1 => Just(Presentation::QueryParam),
                    ],
                ),
            ),
        )
            .prop_map(|(query_method, split, token)| Client::Http {
                query_method,
                split,
                token,
            }),
        1 => prop::option::weighted(0.8, prop::collection::vec(selector_spec(universe), 0..3))
            .prop_map(|access| Client::Embedded { access }),
    ]
}

/// Where a subscriber starts.
#[derive(Debug, Clone, Copy)]
enum Resume {
    /// Live, from when it joins.
    Live,
    Earliest,
    /// An id the hub never saw: everything held is replayed.
    Unknown,
    /// After an update published before it joined (`n % joined`; live
    /// when it joins first).
    After(usize),
}

#[derive(Debug, Clone)]
struct SubscriberSpec {
    dialect: ProtocolVersion,
    selectors: Vec<SelectorSpec>,
    client: Client,
    /// Joins before update `join % (updates + 1)` is published.
    join: usize,
    resume: Resume,
    /// The cursor in the `Last-Event-ID` header rather than the query.
    header: bool,
}

fn subscriber_spec(universe: &[Topic]) -> impl Strategy<Value = SubscriberSpec> + use<> {
    (
        prop_oneof![Just(ProtocolVersion::V0), Just(ProtocolVersion::V1)],
        prop::collection::vec(selector_spec(universe), 1..4),
        client(universe),
        any::<usize>(),
        prop_oneof![
            3 => Just(Resume::Live),
            1 => Just(Resume::Earliest),
            1 => Just(Resume::Unknown),
            2 => any::<usize>().prop_map(Resume::After),
        ],
        any::<bool>(),
    )
        .prop_map(
            |(dialect, selectors, client, join, resume, header)| SubscriberSpec {
                dialect,
                selectors,
                client,
                join,
                resume,
                header,
            },
        )
}

#[derive(Debug, Clone)]
struct UpdateSpec {
    topics: Vec<Topic>,
    private: bool,
    /// Published over HTTP with a token of this dialect, or in process.
    http: Option<ProtocolVersion>,
}

fn update_spec(universe: &[Topic]) -> impl Strategy<Value = UpdateSpec> + use<> {
    (
        prop::collection::vec(select(universe.to_vec()), 1..4),
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just(ProtocolVersion::V0),
            Just(ProtocolVersion::V1)
        ]),
    )
        .prop_map(|(topics, private, http)| UpdateSpec {
            topics,
            private,
            http,
        })
}

#[derive(Debug, Clone)]
struct Case {
    /// Subscription events (private updates of the hub's own) are
    /// published: none may reach a subscriber not authorized for it.
    subscriptions: bool,
    accept_v0_tokens_for_v1: bool,
    accept_short_detail_type: bool,
    updates: Vec<UpdateSpec>,
    subscribers: Vec<SubscriberSpec>,
}

/// A case: a few topics, then updates and subscribers drawing on them
/// (so that selectors, grants and updates meet often).
fn any_case() -> impl Strategy<Value = Case> {
    prop::collection::vec(topic(), 1..6).prop_flat_map(|universe| {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(update_spec(&universe), 1..12),
            prop::collection::vec(subscriber_spec(&universe), 1..7),
        )
            .prop_map(
                |(
                    subscriptions,
                    accept_v0_tokens_for_v1,
                    accept_short_detail_type,
                    updates,
                    subscribers,
                )| Case {
                    subscriptions,
                    accept_v0_tokens_for_v1,
                    accept_short_detail_type,
                    updates,
                    subscribers,
                },
            )
    })
}

// ---------------------------------------------------------------- running

fn factory(version: ProtocolVersion) -> TokenFactory {
    let builder = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap()).protocol(version);
    match version {
        ProtocolVersion::V0 => builder,
        ProtocolVersion::V1 => builder.issuer(ISSUER).audience(HUB_URL),
    }
    .build()
    .unwrap()
}

/// A token allowed to publish everywhere, in `version`.
fn publisher_token(version: ProtocolVersion) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = match version {
        ProtocolVersion::V0 => json!({"exp": exp, "mercure": {"publish": ["*"]}}),
        ProtocolVersion::V1 => json!({
            "iss": ISSUER, "aud": HUB_URL, "exp": exp,
            "authorization_details": [{
                "type": "https://mercure.rocks/authorization-detail",
                "actions": ["publish"], "topics": [{"match": "*"}],
            }],
        }),
    };
    factory(version).sign(&claims).unwrap().expose().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The selectors of a subscriber as `dialect` reads them.
fn selectors(specs: &[SelectorSpec], dialect: ProtocolVersion) -> Vec<Selector> {
    specs.iter().map(|s| s.selector(dialect)).collect()
}

/// The query parameter naming `selector` in `dialect` (`exact_as`: which
/// of the two 1.0 names of exact selectors).
fn param(selector: &Selector, dialect: ProtocolVersion, exact_as: bool) -> &'static str {
    match (dialect, selector) {
        (ProtocolVersion::V0, _) => "topic",
        (ProtocolVersion::V1, Selector::UrlPattern(_)) => "match_urlpattern",
        (ProtocolVersion::V1, Selector::All) => "match",
        (ProtocolVersion::V1, _) if exact_as => "match_exact",
        (ProtocolVersion::V1, _) => "match",
    }
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// What a subscriber expects: refused with a status, or these ids.
#[derive(Debug)]
enum Outcome {
    Refused(StatusCode),
    Receives(Wanted),
}

/// Opens the subscription of `spec`, joining before update `join`; the
/// cursor is `cursor` (an id, `earliest`, or none). Returns the stream,
/// or the status of a refusal.
async fn open(
    hub: &EmbeddedHub,
    router: &axum::Router,
    spec: &SubscriberSpec,
    cursor: Option<&str>,
) -> Result<Events, StatusCode> {
    let dialect = spec.dialect;
    let mut wanted = selectors(&spec.selectors, dialect);
    wanted.push(Selector::Exact(END_TOPIC.into()));
    match &spec.client {
        Client::Embedded { access } => {
            let to_core = |s: &Selector| match s {
                Selector::All => TopicSelector::all(),
                Selector::Exact(e) => TopicSelector::exact(e.as_str()),
                Selector::Template(p) | Selector::UrlPattern(p) => {
                    TopicSelector::pattern(p.as_str())
                }
            };
            let access = match access {
                None => PrivateAccess::All,
                Some(specs) if specs.is_empty() => PrivateAccess::None,
                Some(specs) => PrivateAccess::Selectors(
                    selectors(specs, dialect).iter().map(to_core).collect(),
                ),
            };
            let mut request = SubscribeRequest::new(wanted.iter().map(to_core).collect::<Vec<_>>())
                .dialect(dialect)
                .private_access(access);
            if let Some(cursor) = cursor {
                request = request.last_event_id(cursor);
            }
            let subscription = hub.subscribe(request).await.expect("subscribed in process");
            Ok(Box::pin(futures_util::StreamExt::map(subscription, |r| {
                Ok::<Bytes, String>(r.unwrap_or_else(|e| match e {}))
            })))
        }
        Client::Http {
            query_method,
            split,
            token,
        } => {
            let query_method = *query_method && dialect == ProtocolVersion::V1;
            let split = *split;
            let mut in_query = Vec::new();
            let mut in_body = Vec::new();
            for (i, selector) in wanted.iter().enumerate() {
                let pair = (
                    param(selector, dialect, split & 0x80 != 0),
                    selector.expression().to_owned(),
                );
                if query_method && split & (1 << (i % 7)) != 0 {
                    in_body.push(pair);
                } else {
                    in_query.push(pair);
                }
            }
            let mut request = Request::builder();
            if let Some(cursor) = cursor {
                if spec.header {
                    request = request.header("last-event-id", cursor);
                } else {
                    let name = match dialect {
                        ProtocolVersion::V0 => "lastEventID",
                        ProtocolVersion::V1 => "last_event_id",
                    };
                    let pair = (name, cursor.to_owned());
                    if query_method && split & 1 != 0 {
                        in_body.push(pair);
                    } else {
                        in_query.push(pair);
                    }
                }
            }
            if let Some((token, presentation)) = token {
                let signed = token.sign();
                match presentation {
                    Presentation::QueryParam
                        if dialect == ProtocolVersion::V0
                            && token.dialect() == ProtocolVersion::V0 =>
                    {
                        in_query.push(("authorization", signed));
                    }
                    Presentation::Cookie => {
                        let name = match token.dialect() {
                            ProtocolVersion::V0 => "mercureAuthorization",
                            ProtocolVersion::V1 => "__Secure-mercure_access_token",
                        };
                        request = request.header("cookie", format!("{name}={signed}"));
                    }
                    _ => request = request.header("authorization", format!("Bearer {signed}")),
                }
            }
            let pairs = |pairs: &[(&str, String)]| {
                form(
                    &pairs
                        .iter()
                        .map(|(n, v)| (*n, v.as_str()))
                        .collect::<Vec<_>>(),
                )
            };
            let uri = format!("{HUB_PATH}?{}", pairs(&in_query));
            let request = if query_method {
                request
                    .method(Method::from_bytes(b"QUERY").unwrap())
                    .uri(uri)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(pairs(&in_body)))
            } else {
                request.method(Method::GET).uri(uri).body(Body::empty())
            }
            .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            if response.status() != StatusCode::OK {
                return Err(response.status());
            }
            Ok(Box::pin(futures_util::StreamExt::map(
                response.into_body().into_data_stream(),
                |r| r.map_err(|e| e.to_string()),
            )))
        }
    }
}

/// What `spec` must see, on a hub configured as `case` says.
fn outcome(case: &Case, spec: &SubscriberSpec) -> Outcome {
    let access = match &spec.client {
        Client::Embedded { access: None } => Access::All,
        Client::Embedded {
            access: Some(specs),
        } => Access::Selectors(selectors(specs, spec.dialect)),
        Client::Http { token: None, .. } => Access::Selectors(Vec::new()),
        Client::Http {
            token: Some((token, _)),
            ..
        } => {
            if spec.dialect == ProtocolVersion::V1
                && token.dialect() == ProtocolVersion::V0
                && !case.accept_v0_tokens_for_v1
            {
                return Outcome::Refused(StatusCode::UNAUTHORIZED);
            }
            Access::Selectors(token.grants(case.accept_short_detail_type))
        }
    };
    Outcome::Receives(Wanted {
        selectors: selectors(&spec.selectors, spec.dialect),
        access,
    })
}

async fn publish(hub: &EmbeddedHub, router: &axum::Router, update: &UpdateSpec, id: &str) {
    let mut topics: Vec<String> = Vec::new();
    for topic in &update.topics {
        let topic = topic.text();
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    match update.http {
        None => {
            let built = Update::builder(topics[0].as_str())
                .alternates(topics[1..].iter().map(String::as_str))
                .id(id)
                .data("d")
                .private(update.private)
                .build()
                .unwrap();
            hub.publish(&built).await.unwrap();
        }
        Some(version) => {
            let mut pairs: Vec<(&str, &str)> =
                topics.iter().map(|t| ("topic", t.as_str())).collect();
            pairs.extend([("id", id), ("data", "d")]);
            if update.private {
                pairs.push(("private", "on"));
            }
            let request = Request::post(HUB_PATH)
                .header(
                    "authorization",
                    format!("Bearer {}", publisher_token(version)),
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form(&pairs)))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(status, StatusCode::OK, "publishing {update:?}: {body:?}");
        }
    }
}

async fn run(case: Case) -> Result<(), TestCaseError> {
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(HUB_URL)
            .key(VerificationKey::hs256(SECRET).unwrap())
            .issuer(ISSUER)
            .anonymous(true)
            .subscriptions(case.subscriptions)
            .accept_v0_tokens_for_v1(case.accept_v0_tokens_for_v1)
            .accept_short_detail_type(case.accept_short_detail_type)
            .build()
            .unwrap(),
    );
    let router = hub.router();
    let n = case.updates.len();
    let ids: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    let published: Vec<Published> = case
        .updates
        .iter()
        .zip(&ids)
        .map(|(update, id)| Published {
            id: id.clone(),
            topics: update.topics.iter().map(Topic::text).collect(),
            private: update.private,
        })
        .collect();
    // (subscriber, expected ids or refusal, stream)
    let mut opened = Vec::new();
    for step in 0..=n {
        for (index, spec) in case.subscribers.iter().enumerate() {
            let join = spec.join % (n + 1);
            if join != step {
                continue;
            }
            let (cursor, from) = match spec.resume {
                Resume::Live => (None, join),
                Resume::Earliest => (Some("earliest".to_owned()), 0),
                Resume::Unknown => (Some("never-published".to_owned()), 0),
                Resume::After(_) if join == 0 => (None, 0),
                Resume::After(k) => (Some(ids[k % join].clone()), k % join + 1),
            };
            let result = open(&hub, &router, spec, cursor.as_deref()).await;
            match (outcome(&case, spec), result) {
                (Outcome::Refused(expected), Err(status)) => {
                    prop_assert_eq!(status, expected, "subscriber {}", index);
                }
                (Outcome::Refused(expected), Ok(_)) => {
                    return Err(TestCaseError::fail(format!(
                        "subscriber {index} was served; expected {expected}"
                    )));
                }
                (Outcome::Receives(_), Err(status)) => {
                    return Err(TestCaseError::fail(format!(
                        "subscriber {index} was refused with {status}"
                    )));
                }
                (Outcome::Receives(wanted), Ok(stream)) => {
                    let expected: Vec<String> = wanted
                        .expected(&published[from..], ORIGIN)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    opened.push((index, wanted, expected, stream));
                }
            }
        }
        if step < n {
            publish(&hub, &router, &case.updates[step], &ids[step]).await;
        }
    }
    let end = Update::builder(END_TOPIC)
        .id("end")
        .data("end")
        .build()
        .unwrap();
    hub.publish(&end).await.unwrap();
    for (index, wanted, expected, stream) in opened {
        let mut received = Vec::new();
        for (id, data) in stream_ids::events_until_within(stream, "end", PATIENCE).await {
            if ids.contains(&id) {
                received.push(id);
                continue;
            }
            // Not ours: a subscription event, whose document's id is its
            // topic (relative to the hub; taken in both forms).
            let document: Value = serde_json::from_str(&data)
                .map_err(|e| TestCaseError::fail(format!("event {id}: {e}: {data}")))?;
            let topic = document["id"].as_str().unwrap_or_default().to_owned();
            prop_assert!(
                case.subscriptions && topic.starts_with("/.well-known/mercure/subscriptions"),
                "subscriber {} received {}: {}",
                index,
                id,
                data
            );
            let event = Published {
                id,
                topics: vec![topic.clone(), format!("{ORIGIN}{topic}")],
                private: true,
            };
            prop_assert!(
                wanted.allows(&event, ORIGIN),
                "subscriber {} may not receive the subscription event {}",
                index,
                data
            );
        }
        prop_assert_eq!(received, expected, "subscriber {}", index);
    }
    Ok(())
}

/// Any topic a hub speaking 1.0 accepts picks itself as an exact
/// selector, over HTTP in both dialects (percent-encoded in the query) and
/// in process, and `*` picks it; a private update with it reaches the
/// subscribers granted exactly it. Topics the hub refuses (reserved
/// namespace, `*`) are skipped.
async fn exact_topic(topic: String) -> Result<(), TestCaseError> {
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(HUB_URL)
            .key(VerificationKey::hs256(SECRET).unwrap())
            .issuer(ISSUER)
            .build()
            .unwrap(),
    );
    let update = |private: bool, id: &str| {
        Update::builder(topic.as_str())
            .id(id)
            .data("d")
            .private(private)
            .build()
    };
    let Ok(private) = update(true, "private") else {
        return Ok(()); // refused by the builder: not a 1.0 topic
    };
    let router = hub.router();
    // A 1.0 token granting exactly this topic, and a 0.x one.
    let v1_claims = json!({
        "iss": ISSUER, "aud": HUB_URL, "exp": 4_000_000_000_u64,
        "authorization_details": [{
            "type": "https://mercure.rocks/authorization-detail",
            "actions": ["subscribe"], "topics": [{"match": topic}],
        }],
    });
    let v0_claims = json!({"exp": 4_000_000_000_u64, "mercure": {"subscribe": [topic]}});
    let mut streams: Vec<(String, Events)> = Vec::new();
    let mut queries = vec![
        (
            "1.0 match=".to_owned(),
            format!("match={}&match={}", enc(&topic), enc(END_TOPIC)),
            factory(ProtocolVersion::V1).sign(&v1_claims).unwrap(),
        ),
        (
            "1.0 match_exact=".to_owned(),
            format!("match_exact={}&match={}", enc(&topic), enc(END_TOPIC)),
            factory(ProtocolVersion::V1).sign(&v1_claims).unwrap(),
        ),
        (
            "1.0 *".to_owned(),
            "match=*".to_owned(),
            factory(ProtocolVersion::V1).sign(&v1_claims).unwrap(),
        ),
    ];
    // In 0.x a topic with braces is a template.
    if !topic.contains(['{', '}']) {
        queries.push((
            "0.x topic=".to_owned(),
            format!("topic={}&topic={}", enc(&topic), enc(END_TOPIC)),
            factory(ProtocolVersion::V0).sign(&v0_claims).unwrap(),
        ));
    }
    for (name, query, token) in queries {
        let request = Request::get(format!("{HUB_PATH}?{query}"))
            .header("authorization", format!("Bearer {}", token.expose()))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        prop_assert_eq!(response.status(), StatusCode::OK, "{}", name);
        streams.push((
            name,
            Box::pin(futures_util::StreamExt::map(
                response.into_body().into_data_stream(),
                |r| r.map_err(|e| e.to_string()),
            )),
        ));
    }
    let in_process = hub
        .subscribe(
            SubscribeRequest::new([
                TopicSelector::exact(topic.as_str()),
                TopicSelector::exact(END_TOPIC),
            ])
            .dialect(ProtocolVersion::V1)
            .private_access(PrivateAccess::Selectors(vec![TopicSelector::exact(
                topic.as_str(),
            )])),
        )
        .await
        .unwrap();
    streams.push((
        "in process".to_owned(),
        Box::pin(futures_util::StreamExt::map(in_process, |r| {
            Ok::<Bytes, String>(r.unwrap_or_else(|e| match e {}))
        })),
    ));
    match hub.publish(&update(false, "public").unwrap()).await {
        Ok(_) => {}
        Err(mercure_hub::Error::ReservedTopic { .. } | mercure_hub::Error::InvalidUpdate(_)) => {
            return Ok(());
        }
        Err(other) => return Err(TestCaseError::fail(format!("publishing: {other}"))),
    }
    hub.publish(&private).await.unwrap();
    hub.publish(
        &Update::builder(END_TOPIC)
            .id("end")
            .data("end")
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    for (name, stream) in streams {
        let received = stream_ids::ids_until_within(stream, "end", PATIENCE).await;
        prop_assert_eq!(
            received,
            vec!["public".to_owned(), "private".to_owned()],
            "{}",
            name
        );
    }
    Ok(())
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn case_count() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(case_count()))]

    #[test]
    fn private_updates_reach_exactly_the_authorized_subscribers(case in any_case()) {
        runtime().block_on(run(case))?;
    }

    #[test]
    fn an_exact_selector_picks_its_own_topic(
        topic in prop_oneof![
            "\\PC{1,24}",
            "https://example\\.com/[a-z%0-9{}:/?#.~-]{0,16}",
            "[ -~]{1,16}",
        ]
    ) {
        runtime().block_on(exact_topic(topic))?;
    }
}
