//! Mercure for [actix-web](https://docs.rs/actix-web) applications.
//!
//! This crate will hold the actix-web adapter (authorization cookie,
//! discovery `Link` middleware, template helpers); today it re-exports the
//! client so applications can depend on one crate.

pub use mercure_client as client;
