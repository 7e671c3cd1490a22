//! `mercure token`.

use mercure_client::token::Grants;
use mercure_client::{ProtocolVersion, TopicSelector};

use super::{CliError, key};
use crate::args::TokenArgs;

pub(crate) fn run(args: &TokenArgs) -> Result<(), CliError> {
    let version = ProtocolVersion::from(args.protocol);
    let factory = key::factory(&args.key, version)?;
    let mut grants = Grants::new()
        .publish(args.publish.iter().map(TopicSelector::from))
        .publish(args.publish_pattern.iter().map(TopicSelector::pattern))
        .subscribe(args.subscribe.iter().map(TopicSelector::from))
        .subscribe(args.subscribe_pattern.iter().map(TopicSelector::pattern));
    if grants.publish_selectors().is_empty() && grants.subscribe_selectors().is_empty() {
        return Err(
            "the token would grant nothing: pass --publish, --subscribe or a --*-pattern".into(),
        );
    }
    if let Some(payload) = &args.payload {
        let payload: serde_json::Value = serde_json::from_str(payload)
            .map_err(|e| format!("--payload is not valid JSON: {e}"))?;
        grants = grants.with_payload(payload);
    }
    if let Some(subject) = &args.subject {
        grants = grants.with_subject(subject);
    }
    let token = factory.mint(&grants)?;
    if args.decode {
        let header = jsonwebtoken::decode_header(token.expose())?;
        let claims =
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token.expose())?.claims;
        let output = serde_json::json!({ "header": header, "claims": claims });
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        println!("{}", token.expose());
    }
    Ok(())
}
