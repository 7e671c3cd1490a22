//! Which cryptographic backend signs and verifies JWTs.
//!
//! `jsonwebtoken` needs exactly one process-wide provider; this crate picks
//! it from its own features (`aws-lc-rs` wins when both it and
//! `rust-crypto` are enabled) and never relies on the process default when
//! signing, so enabling both features is safe.

use jsonwebtoken::crypto::CryptoProvider;

/// The provider selected by this crate's features.
pub fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
    #[cfg(not(any(feature = "rust-crypto", feature = "aws-lc-rs")))]
    {
        compile_error!(
            "mercure-core needs one of the features `rust-crypto` or `aws-lc-rs` (enabled by default; the client, web and adapter crates pass them through)"
        );
    }
}

/// Installs [`provider`] as `jsonwebtoken`'s process-wide default, unless
/// one is installed already, so that `jsonwebtoken::decode` works whatever
/// combination of backend features the build enabled. Idempotent.
pub fn install_default_provider() {
    // An error only says another provider was installed first: keep it.
    let _ = provider().install_default();
}
