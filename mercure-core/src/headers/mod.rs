//! Header values of the protocol, one file each: `Link` (discovery),
//! `WWW-Authenticate: Bearer` (refusals) and `Forwarded` (the host and
//! scheme a client addressed behind a proxy).

mod forwarded;
mod link;
mod www_authenticate;

pub use forwarded::{forwarded_host, forwarded_proto};
pub use link::LinkValue;
pub use www_authenticate::BearerChallenge;
