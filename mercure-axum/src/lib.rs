//! Mercure for [axum](https://docs.rs/axum) applications.
//!
//! This crate will hold the axum adapter (authorization cookie as a response
//! part, discovery `Link` layer, template helpers); today it re-exports the
//! client so applications can depend on one crate.

pub use mercure_client as client;
