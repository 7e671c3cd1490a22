//! Runnable examples for mercure-rs: see the `[[example]]` targets of this package.
