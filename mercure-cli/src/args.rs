//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mercure_client::ProtocolVersion;
use mercure_client::token::Algorithm;

/// The Mercure toolkit: mint tokens, publish updates to a hub.
///
/// Secrets are read from the environment or from files, never required on
/// the command line (where other users of the machine could see them).
#[derive(Debug, Parser)]
#[command(name = "mercure", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Mint a JWT for publishers or subscribers (0.x or 1.0 shape).
    ///
    /// Example: mercure token --publish '*' --subscribe 'https://example.com/users/42'
    Token(TokenArgs),
    /// Publish an update to a hub; prints the id the hub assigned.
    ///
    /// Example: mercure publish --hub http://127.0.0.1:3000/.well-known/mercure
    ///          --topic https://example.com/books/1 --data '{"status":"sold"}'
    Publish(PublishArgs),
    /// Subscribe to topics and print the updates as they arrive; reconnects
    /// by itself, resuming from the last event received.
    ///
    /// Example: mercure subscribe --hub http://127.0.0.1:3000/.well-known/mercure
    ///          --topic https://example.com/books/1 --json
    Subscribe(SubscribeArgs),
    /// Fetch a resource and print the hubs its `Link` headers advertise,
    /// and whether the hub speaks 0.x or 1.0.
    ///
    /// Example: mercure discover https://example.com/books/1
    Discover(DiscoverArgs),
    /// List the active subscriptions of a hub (its subscriptions API).
    ///
    /// Example: mercure subscriptions --hub http://127.0.0.1:3000/.well-known/mercure
    ///          --topic https://example.com/books/1
    Subscriptions(SubscriptionsArgs),
    /// Run the standalone hub: the `mercure-hub` binary installed beside
    /// this one (or on PATH, or at $MERCURE_HUB_BIN), given every argument
    /// that follows. `mercure hub --help` lists its flags.
    ///
    /// Example: MERCURE_JWT_KEY='!ChangeThisMercureHubJWTSecretKey!' mercure hub --demo
    #[command(disable_help_flag = true)]
    Hub(HubArgs),
    /// Print a completion script for a shell.
    ///
    /// Example: mercure completions bash > ~/.local/share/bash-completion/completions/mercure
    Completions(CompletionsArgs),
    /// Print the manual page of `mercure` (roff), or write it and one page
    /// per subcommand (`mercure-token.1`, ...) into a directory.
    ///
    /// `mercure-hub.1`, the page of the hub that `mercure hub` runs, comes
    /// from `mercure-hub --man`.
    ///
    /// Example: mercure man --out ~/.local/share/man/man1
    Man(ManArgs),
}

/// `mercure completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `mercure man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `mercure.1` and one page per subcommand but `hub` into this
    /// directory (created when missing), and print their paths; without
    /// it, print `mercure.1`.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `mercure hub`.
#[derive(Debug, Args)]
pub(crate) struct HubArgs {
    /// Arguments for `mercure-hub`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub(crate) args: Vec<std::ffi::OsString>,
}

/// How a subscriber obtains its token.
#[derive(Debug, Args)]
pub(crate) struct SubscriberAuthArgs {
    /// Environment variable holding a ready-made subscriber token; when set
    /// and non-empty it is used instead of minting one.
    #[arg(long, value_name = "VAR", default_value = "MERCURE_SUBSCRIBER_JWT")]
    pub(crate) jwt_env: String,
    /// Subscribe without a token (public updates only).
    #[arg(long)]
    pub(crate) anonymous: bool,
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}

/// How the token is presented.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AuthMethod {
    /// `Authorization: Bearer` header.
    Header,
    /// The dialect's authorization cookie.
    Cookie,
    /// The `authorization` query parameter (0.x only; the token ends up in
    /// URLs and logs).
    Query,
}

/// `mercure subscribe`.
#[derive(Debug, Args)]
pub(crate) struct SubscribeArgs {
    /// The hub's URL.
    #[arg(long, env = "MERCURE_URL")]
    pub(crate) hub: String,
    /// Protocol dialect of the hub.
    #[arg(long, value_enum, default_value = "0", env = "MERCURE_PROTOCOL")]
    pub(crate) protocol: Protocol,
    /// Exact topic (or `*`); repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: Vec<String>,
    /// Pattern (URI template in 0.x, URL pattern in 1.0); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub(crate) pattern: Vec<String>,
    /// Resume after this event id (`earliest` for the whole history).
    #[arg(long, value_name = "ID")]
    pub(crate) last_event_id: Option<String>,
    /// How the token is presented.
    #[arg(long, value_enum, default_value = "header")]
    pub(crate) auth: AuthMethod,
    /// Print one JSON object per line, connection events included.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit after this many updates.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Reconnect when nothing (not even a heartbeat) arrives for this many
    /// seconds, answer headers included; 0 waits forever.
    #[arg(long, value_name = "SECONDS", default_value_t = 90)]
    pub(crate) read_timeout: u64,
    #[command(flatten)]
    pub(crate) auth_args: SubscriberAuthArgs,
}

/// `mercure discover`.
#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// The resource whose `Link` headers to read.
    pub(crate) url: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Give up after this many seconds overall: fetching the resource and
    /// probing every hub it advertises (at most 16, a few at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(crate) deadline: u64,
}

/// `mercure subscriptions`.
#[derive(Debug, Args)]
pub(crate) struct SubscriptionsArgs {
    /// The hub's URL.
    #[arg(long, env = "MERCURE_URL")]
    pub(crate) hub: String,
    /// Protocol dialect of the hub.
    #[arg(long, value_enum, default_value = "0", env = "MERCURE_PROTOCOL")]
    pub(crate) protocol: Protocol,
    /// Only the subscriptions to this topic.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: Option<String>,
    /// Only this subscriber's subscription (needs --topic).
    #[arg(long, value_name = "ID", requires = "topic")]
    pub(crate) subscriber: Option<String>,
    #[command(flatten)]
    pub(crate) auth_args: SubscriberAuthArgs,
}

/// Which dialect of the protocol.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Protocol {
    /// 0.x (draft-07): the `mercure` claim.
    #[value(name = "0", alias = "0.x")]
    V0,
    /// 1.0 (draft-08): RFC 9068 access tokens with `authorization_details`.
    #[value(name = "1", alias = "1.0")]
    V1,
}

impl From<Protocol> for ProtocolVersion {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::V0 => ProtocolVersion::V0,
            Protocol::V1 => ProtocolVersion::V1,
        }
    }
}

/// Signature algorithms.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
pub(crate) enum Alg {
    /// HMAC SHA-256 (shared secret).
    Hs256,
    /// HMAC SHA-384 (shared secret).
    Hs384,
    /// HMAC SHA-512 (shared secret).
    Hs512,
    /// RSA PKCS#1 v1.5 SHA-256 (PEM private key).
    Rs256,
    /// RSA PKCS#1 v1.5 SHA-384.
    Rs384,
    /// RSA PKCS#1 v1.5 SHA-512.
    Rs512,
    /// RSA-PSS SHA-256.
    Ps256,
    /// RSA-PSS SHA-384.
    Ps384,
    /// RSA-PSS SHA-512.
    Ps512,
    /// ECDSA P-256 SHA-256 (PEM private key).
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// Ed25519 (PEM private key).
    #[value(name = "EdDSA")]
    EdDsa,
}

impl From<Alg> for Algorithm {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::Hs256 => Algorithm::HS256,
            Alg::Hs384 => Algorithm::HS384,
            Alg::Hs512 => Algorithm::HS512,
            Alg::Rs256 => Algorithm::RS256,
            Alg::Rs384 => Algorithm::RS384,
            Alg::Rs512 => Algorithm::RS512,
            Alg::Ps256 => Algorithm::PS256,
            Alg::Ps384 => Algorithm::PS384,
            Alg::Ps512 => Algorithm::PS512,
            Alg::Es256 => Algorithm::ES256,
            Alg::Es384 => Algorithm::ES384,
            Alg::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// How tokens are signed.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// Signature algorithm.
    #[arg(long, value_enum, default_value = "HS256")]
    pub(crate) alg: Alg,
    /// Environment variable holding the HMAC secret.
    #[arg(long, value_name = "VAR", default_value = "MERCURE_JWT_SECRET")]
    pub(crate) secret_env: String,
    /// File holding the HMAC secret (raw bytes) or the PEM private key.
    #[arg(long, value_name = "PATH")]
    pub(crate) key_file: Option<PathBuf>,
    /// `iss` claim (required for 1.0).
    #[arg(long, env = "MERCURE_JWT_ISSUER")]
    pub(crate) issuer: Option<String>,
    /// `aud` claim: the hub's resource identifier (required for 1.0).
    #[arg(long, env = "MERCURE_JWT_AUDIENCE")]
    pub(crate) audience: Option<String>,
    /// `kid` header: the id of the key in the hub's JWK set.
    #[arg(long, env = "MERCURE_JWT_KID", value_name = "KID")]
    pub(crate) kid: Option<String>,
    /// Token lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub(crate) ttl: u64,
}

/// `mercure token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// Protocol dialect of the token.
    #[arg(long, value_enum, default_value = "0", env = "MERCURE_PROTOCOL")]
    pub(crate) protocol: Protocol,
    /// Topic (or `*`) the token may publish to; repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) publish: Vec<String>,
    /// Topic (or `*`) whose private updates the token may receive; repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) subscribe: Vec<String>,
    /// Pattern (URI template in 0.x, URL pattern in 1.0) the token may
    /// publish to; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub(crate) publish_pattern: Vec<String>,
    /// Pattern whose private updates the token may receive; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub(crate) subscribe_pattern: Vec<String>,
    /// Subscriber payload, as JSON.
    #[arg(long, value_name = "JSON")]
    pub(crate) payload: Option<String>,
    /// `sub` claim.
    #[arg(long)]
    pub(crate) subject: Option<String>,
    /// Print the decoded header and claims instead of the token.
    #[arg(long)]
    pub(crate) decode: bool,
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}

/// `mercure publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The hub's URL.
    #[arg(long, env = "MERCURE_URL")]
    pub(crate) hub: String,
    /// Protocol dialect of the hub.
    #[arg(long, value_enum, default_value = "0", env = "MERCURE_PROTOCOL")]
    pub(crate) protocol: Protocol,
    /// Topic; the first is canonical, the others alternates. Repeatable.
    #[arg(long, required = true, value_name = "TOPIC")]
    pub(crate) topic: Vec<String>,
    /// Payload; `-` reads standard input.
    #[arg(long, conflicts_with = "data_file")]
    pub(crate) data: Option<String>,
    /// File whose content is the payload.
    #[arg(long, value_name = "PATH")]
    pub(crate) data_file: Option<PathBuf>,
    /// Only subscribers authorized for one of the topics receive it.
    #[arg(long)]
    pub(crate) private: bool,
    /// Event id (the hub generates one otherwise).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// SSE event type.
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) event_type: Option<String>,
    /// Reconnection delay advertised to subscribers, in milliseconds.
    #[arg(long, value_name = "MILLISECONDS")]
    pub(crate) retry: Option<u64>,
    /// Environment variable holding a ready-made publisher token; when set
    /// and non-empty it is used instead of minting one.
    #[arg(long, value_name = "VAR", default_value = "MERCURE_PUBLISHER_JWT")]
    pub(crate) jwt_env: String,
    /// Request timeout in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(crate) timeout: u64,
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}
