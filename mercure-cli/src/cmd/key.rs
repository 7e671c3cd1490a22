//! Building a token factory from the key arguments.

use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::token::{Algorithm, SigningKey, TokenFactory};

use super::CliError;
use crate::args::KeyArgs;

/// A factory for `version` tokens signed as `args` say.
pub(crate) fn factory(args: &KeyArgs, version: ProtocolVersion) -> Result<TokenFactory, CliError> {
    let algorithm = Algorithm::from(args.alg);
    let key = match (&args.key_file, algorithm.family()) {
        (Some(path), jsonwebtoken::AlgorithmFamily::Hmac) => {
            let secret = std::fs::read(path)
                .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
            SigningKey::hmac(algorithm, trim_newline(&secret))?
        }
        (Some(path), _) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
            SigningKey::from_pem(algorithm, pem)?
        }
        (None, jsonwebtoken::AlgorithmFamily::Hmac) => {
            let secret = std::env::var(&args.secret_env).map_err(|_| {
                format!(
                    "no HMAC secret: set the environment variable {} or pass --key-file",
                    args.secret_env
                )
            })?;
            SigningKey::hmac(algorithm, secret.as_bytes())?
        }
        (None, _) => {
            return Err(format!("{algorithm:?} needs a PEM private key: pass --key-file").into());
        }
    };
    let mut builder = TokenFactory::builder(key)
        .protocol(version)
        .lifetime(Duration::from_secs(args.ttl));
    if let Some(issuer) = &args.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience);
    }
    if let Some(kid) = &args.kid {
        builder = builder.key_id(kid);
    }
    Ok(builder.build()?)
}

/// Secrets stored in files usually end with a newline that is not part of them.
fn trim_newline(secret: &[u8]) -> &[u8] {
    let mut end = secret.len();
    while end > 0 && matches!(secret[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &secret[..end]
}

/// Where a subscriber's tokens come from: the fixed token of
/// `args.jwt_env`, or a factory minting `selectors` as subscribe grants
/// (again before each expiry, so that a long subscription reconnects with a
/// valid token), or none when anonymous.
pub(crate) fn subscriber_tokens(
    args: &crate::args::SubscriberAuthArgs,
    version: ProtocolVersion,
    selectors: &[mercure_client::TopicSelector],
) -> Result<Option<std::sync::Arc<dyn mercure_client::token::TokenProvider>>, CliError> {
    if args.anonymous {
        return Ok(None);
    }
    if let Ok(jwt) = std::env::var(&args.jwt_env)
        && !jwt.trim().is_empty()
    {
        return Ok(Some(std::sync::Arc::new(
            mercure_client::token::Token::new(jwt.trim()),
        )));
    }
    let factory = factory(&args.key, version).map_err(|error| {
        format!(
            "{error} (or pass --anonymous, or set {} to a subscriber token)",
            args.jwt_env
        )
    })?;
    let grants = mercure_client::token::Grants::new().subscribe(selectors.iter().cloned());
    // Fail now on a key that cannot sign, rather than at the first connection.
    factory.mint(&grants)?;
    Ok(Some(std::sync::Arc::new(
        mercure_client::token::CachedTokenProvider::new(factory, grants),
    )))
}
