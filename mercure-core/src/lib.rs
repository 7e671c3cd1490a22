//! The [Mercure](https://mercure.rocks) protocol without network I/O, shared
//! by the client, the web helpers and the hub of this workspace: both
//! dialects (0.x, draft-07, and 1.0, draft-08), topic selectors, updates and
//! their validation, event ids, tokens minted and verified, server-sent
//! events encoded and decoded, and the header values the protocol uses.
//!
//! ```
//! use mercure_core::token::{Grants, SigningKey, TokenFactory};
//! use mercure_core::{ProtocolVersion, Update};
//!
//! let update = Update::builder("https://example.com/books/1")
//!     .data(r#"{"status": "available"}"#)
//!     .private(true)
//!     .build()
//!     .unwrap();
//! assert!(update.validate_for(ProtocolVersion::V1).is_ok());
//!
//! let factory = TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap())
//!     .build()
//!     .unwrap();
//! let token = factory.mint(&Grants::publish_all()).unwrap();
//! assert_eq!(token.expose().split('.').count(), 3);
//! ```
//!
//! # Modules
//! - [`token`]: what a token grants, minting ([`TokenFactory`](token::TokenFactory))
//!   and verifying ([`Verifier`](token::Verifier)) in both dialects.
//! - [`sse`]: the `text/event-stream` decoder and encoder.
//! - [`headers`]: `Link`, `WWW-Authenticate: Bearer` and `Forwarded` values.
//! - [`clock`]: time as a dependency.
//!
//! # Features
//! - `rust-crypto` (default) / `aws-lc-rs`: the JWT signature backend.

pub mod clock;
pub mod crypto;
mod event_id;
pub mod headers;
mod hub_info;
mod protocol;
mod registry;
mod selector;
pub mod sse;
mod text;
pub mod token;
mod update;

pub use event_id::EventId;
pub use hub_info::{HubInfo, HubInfoBuilder, InvalidHub, resolve_protocol};
pub use protocol::{Dialect, ProtocolVersion, UnknownProtocolVersion};
pub use registry::{HubRegistry, UnknownHub};
pub use selector::{MatchType, TopicSelector};
pub use update::{Update, UpdateBuilder, UpdateError};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Update>();
        assert_send_sync::<crate::HubInfo>();
        assert_send_sync::<crate::token::TokenFactory>();
        assert_send_sync::<crate::sse::SseDecoder>();
    }
}
