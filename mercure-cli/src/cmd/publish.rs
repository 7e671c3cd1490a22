//! `mercure publish`.

use std::io::Read;
use std::time::Duration;

use mercure_client::token::{Grants, Token};
use mercure_client::{Hub, ProtocolVersion, TopicSelector, Update};

use super::{CliError, key};
use crate::args::PublishArgs;

pub(crate) async fn run(args: PublishArgs) -> Result<(), CliError> {
    let version = ProtocolVersion::from(args.protocol);
    let data = match (&args.data, &args.data_file) {
        (Some(data), _) if data == "-" => {
            let mut buffer = String::new();
            std::io::stdin()
                .read_to_string(&mut buffer)
                .map_err(|e| format!("cannot read the payload from standard input: {e}"))?;
            Some(buffer)
        }
        (Some(data), _) => Some(data.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        (None, None) => None,
    };

    let mut topics = args.topic.iter();
    let Some(canonical) = topics.next() else {
        return Err("at least one --topic is required".into());
    };
    let mut builder = Update::builder(canonical.as_str())
        .alternates(topics.cloned())
        .private(args.private);
    if let Some(data) = data {
        builder = builder.data(data);
    }
    if let Some(id) = &args.id {
        builder = builder.id(id);
    }
    if let Some(kind) = &args.event_type {
        builder = builder.event_type(kind);
    }
    if let Some(retry) = args.retry {
        builder = builder.retry(Duration::from_millis(retry));
    }
    let update = builder.build()?;

    let hub = Hub::builder(&args.hub)
        .protocol(version)
        .timeout(Some(Duration::from_secs(args.timeout)));
    let hub = match std::env::var(&args.jwt_env) {
        Ok(jwt) if !jwt.trim().is_empty() => hub.token(Token::new(jwt.trim())),
        _ => {
            let factory = key::factory(&args.key, version)?;
            let grants = Grants::new().publish(update.topics().iter().map(TopicSelector::from));
            hub.token_factory(factory, grants)
        }
    }
    .build()?;
    let id = hub.publish(&update).await?;
    println!("{id}");
    Ok(())
}
