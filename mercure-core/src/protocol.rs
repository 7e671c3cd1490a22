//! The two dialects of the Mercure protocol, described as data.

use std::fmt;
use std::str::FromStr;

/// A dialect of the Mercure protocol.
///
/// Everything that differs between the dialects (query parameter names,
/// cookie names, response headers, token shape, publish validation) is read
/// from the [`Dialect`] table returned by [`ProtocolVersion::dialect`], so the
/// rest of the crate has one code path for both.
///
/// ```
/// use mercure_core::ProtocolVersion;
///
/// assert_eq!(ProtocolVersion::V0.dialect().cookie_name, "mercureAuthorization");
/// assert_eq!(ProtocolVersion::V1.dialect().cookie_name, "__Secure-mercure_access_token");
/// assert_eq!("1.0".parse::<ProtocolVersion>().unwrap(), ProtocolVersion::V1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// Mercure 0.x (Internet-Draft draft-dunglas-mercure-07, hub 0.24): `topic=`
    /// selectors, the `mercure` JWT claim, the `mercureAuthorization` cookie.
    ///
    /// The default: it is the dialect every released hub speaks.
    #[default]
    V0,
    /// Mercure 1.0 (Internet-Draft draft-dunglas-mercure-08): `match=`
    /// matchers, RFC 9068 access tokens with `authorization_details`, the
    /// `__Secure-mercure_access_token` cookie.
    V1,
}

/// The per-dialect constants of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dialect {
    /// Human-readable name (`"0.x"` or `"1.0"`).
    pub name: &'static str,
    /// Name of the authorization cookie a browser presents to the hub.
    pub cookie_name: &'static str,
    /// Query parameter carrying the reconciliation cursor.
    pub last_event_id_param: &'static str,
    /// Response header in which the hub reports where a stream resumed.
    pub resume_header: &'static str,
    /// Query parameter that may carry the token, when the dialect allows one.
    pub authorization_param: Option<&'static str>,
    /// Query parameter for an exact topic selector.
    pub exact_selector_param: &'static str,
    /// Query parameter for a pattern selector (URI template in 0.x, URL
    /// pattern in 1.0).
    pub pattern_selector_param: &'static str,
    /// Whether `*` may be published as a topic.
    pub wildcard_topic_publishable: bool,
    /// `typ` header of the JWTs of this dialect.
    pub token_type: &'static str,
    /// Content type of the subscriptions API.
    pub subscriptions_content_type: &'static str,
}

const V0: Dialect = Dialect {
    name: "0.x",
    cookie_name: "mercureAuthorization",
    last_event_id_param: "lastEventID",
    resume_header: "Last-Event-ID",
    authorization_param: Some("authorization"),
    exact_selector_param: "topic",
    pattern_selector_param: "topic",
    wildcard_topic_publishable: true,
    token_type: "JWT",
    subscriptions_content_type: "application/ld+json",
};

const V1: Dialect = Dialect {
    name: "1.0",
    cookie_name: "__Secure-mercure_access_token",
    last_event_id_param: "last_event_id",
    resume_header: "Mercure-Last-Event-ID",
    authorization_param: None,
    exact_selector_param: "match",
    pattern_selector_param: "match_urlpattern",
    wildcard_topic_publishable: false,
    token_type: "at+jwt",
    subscriptions_content_type: "application/json",
};

impl ProtocolVersion {
    /// Both dialects, oldest first.
    pub const ALL: [ProtocolVersion; 2] = [ProtocolVersion::V0, ProtocolVersion::V1];

    /// The constants of this dialect.
    pub const fn dialect(self) -> &'static Dialect {
        match self {
            ProtocolVersion::V0 => &V0,
            ProtocolVersion::V1 => &V1,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dialect().name)
    }
}

/// The error returned when a protocol version name is not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Mercure protocol version {0:?}: expected 0.x (draft-07) or 1.0 (draft-08)")]
pub struct UnknownProtocolVersion(pub String);

impl FromStr for ProtocolVersion {
    type Err = UnknownProtocolVersion;

    /// Accepts `0`, `0.x`, `v0`, `draft-07`, `7`, `1`, `1.0`, `v1`, `draft-08`, `8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "0.x" | "v0" | "draft-07" | "07" | "7" => Ok(ProtocolVersion::V0),
            "1" | "1.0" | "1.x" | "v1" | "draft-08" | "08" | "8" => Ok(ProtocolVersion::V1),
            _ => Err(UnknownProtocolVersion(s.to_owned())),
        }
    }
}
