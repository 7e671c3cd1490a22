//! Runnable examples for mercure-rs, and the code they share:
//!
//! * [`board`]: a live status board (users whose statuses update in real
//!   time, private notes per user), independent of any web framework;
//! * [`status_board`]: the board on axum with the hub embedded;
//! * [`status_board_actix`]: the same board on actix-web, the embedded hub
//!   served alongside;
//! * [`publisher_service`]: publishing from a backend job through a
//!   background queue with retries;
//! * [`subscriber_daemon`]: a subscriber that survives hub restarts.
//!
//! Run them with `cargo run -p mercure-examples --example NAME`; see the
//! `[[example]]` targets of this package.

pub mod board;
pub mod publisher_service;
pub mod status_board;
pub mod status_board_actix;
pub mod subscriber_daemon;
