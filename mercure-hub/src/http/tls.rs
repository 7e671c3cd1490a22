//! HTTPS: the hub served over TLS (rustls), HTTP/1.1 and HTTP/2 chosen by
//! ALPN, with a certificate that can be replaced while the hub runs.
//!
//! Every connection is bounded as on cleartext, plus the handshake: a
//! connection is admitted (counted against the caps) when accepted, its TLS
//! handshake must complete within the head timeout (a client that sends
//! nothing, or trickles its ClientHello, is cut then), and the request head
//! (HTTP/1.1) or the first stream (HTTP/2) must follow within the head
//! timeout again. Over TLS every request goes through hyper and the
//! router: the lean path writes to the bare socket, which TLS does not
//! allow.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

use super::admission::{Admission, Limits};
use super::connection::{self, Connection, Protocol};
use super::lean;
use crate::EmbeddedHub;

/// Largest certificate or key file read (a chain of a few certificates
/// takes a few KiB).
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// The protocols offered by ALPN, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A certificate that cannot be used: unreadable, not PEM, no key, or a
/// key that does not match. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// The certificate chain and private key a TLS server presents, from PEM
/// files or bytes, and the rustls configuration around them (TLS 1.2 and
/// 1.3, ALPN `h2` then `http/1.1`, the aws-lc-rs provider).
///
/// [`reload`](Self::reload) reads the files again and, when they hold a
/// usable pair, makes new handshakes present it; connections already
/// established keep theirs. A pair that cannot be used is refused with an
/// error and the previous one is kept. [`watch`](Self::watch) reloads
/// whenever the files change. Clones share the same certificate.
///
/// ```no_run
/// use mercure_hub::{EmbeddedHub, HubConfig, TlsConfigSource};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = EmbeddedHub::new(HubConfig::builder().anonymous(true).build()?);
/// let tls = TlsConfigSource::from_pem_files("cert.pem", "key.pem")?;
/// tokio::spawn(tls.clone().watch(std::time::Duration::from_secs(5)));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// let app = hub.router();
/// mercure_hub::serve_hub_tls(listener, hub, app, tls, std::future::pending()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConfigSource {
    inner: Arc<Source>,
}

struct Source {
    /// The certificate and key files, when the pair came from files.
    files: Option<(PathBuf, PathBuf)>,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TlsConfigSource");
        if let Some((cert, key)) = &self.inner.files {
            out.field("cert", cert).field("key", key);
        }
        out.finish_non_exhaustive()
    }
}

/// Presents the current pair to every handshake.
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, pair: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = pair;
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl TlsConfigSource {
    /// The certificate chain in `cert` (PEM, the server's certificate
    /// first) and the private key in `key` (PEM: PKCS#8, PKCS#1 or SEC1),
    /// read now and again by [`reload`](Self::reload).
    ///
    /// # Errors
    /// A file cannot be read or holds no usable certificate or key, or the
    /// key does not match the certificate.
    pub fn from_pem_files(
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Result<Self, TlsError> {
        let (cert, key) = (cert.into(), key.into());
        let provider = provider();
        let pair = load(&cert, &key, &provider)?;
        Self::new(Some((cert, key)), provider, pair)
    }

    /// A certificate chain and private key given as PEM bytes (which
    /// [`reload`](Self::reload) leaves as they are).
    ///
    /// # Errors
    /// No usable certificate or key, or the key does not match the
    /// certificate.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let provider = provider();
        let pair = parse(cert, key, &provider)?;
        Self::new(None, provider, pair)
    }

    fn new(
        files: Option<(PathBuf, PathBuf)>,
        provider: Arc<CryptoProvider>,
        pair: CertifiedKey,
    ) -> Result<Self, TlsError> {
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(pair)),
        });
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError(format!("TLS configuration: {error}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            inner: Arc::new(Source {
                files,
                provider,
                resolver,
                config: Arc::new(config),
            }),
        })
    }

    /// Reads the certificate and key files again and presents the new pair
    /// to the handshakes that follow. Without files (from
    /// [`from_pem`](Self::from_pem)), nothing changes.
    ///
    /// # Errors
    /// The new pair cannot be used (see
    /// [`from_pem_files`](Self::from_pem_files)): the previous one stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Some((cert, key)) = &self.inner.files else {
            return Ok(());
        };
        let pair = load(cert, key, &self.inner.provider)?;
        self.inner.resolver.replace(Arc::new(pair));
        Ok(())
    }

    /// Looks at the certificate and key files every `every` and reloads
    /// them when either changed (modification time, size or file), logging
    /// the outcome; a pair that cannot be used is logged (never its
    /// content) and the previous one kept until the files change again.
    /// Runs until dropped (spawn it); completes at once without files.
    pub async fn watch(self, every: Duration) {
        let Some((cert, key)) = self.inner.files.clone() else {
            return;
        };
        let mut seen = (stamp(&cert), stamp(&key));
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let now = (stamp(&cert), stamp(&key));
            if now == seen {
                continue;
            }
            seen = now;
            match self.reload() {
                Ok(()) => tracing::info!(
                    cert = %cert.display(),
                    "TLS certificate changed on disk: reloaded"
                ),
                Err(error) => tracing::warn!(
                    cert = %cert.display(),
                    %error,
                    "TLS certificate changed on disk but cannot be used: the previous one is kept"
                ),
            }
        }
    }

    /// An acceptor presenting the current pair (and any later one).
    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.inner.config))
    }
}

/// What tells a file's versions apart: modification time, size, inode.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some((metadata.modified().ok()?, metadata.len(), inode))
}

/// The crypto provider of every TLS server: aws-lc-rs, as reqwest's rustls.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads a PEM file of at most [`MAX_PEM_FILE`] bytes.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let unreadable = |error: io::Error| {
        TlsError(format!(
            "cannot read the {what} file {}: {error}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(TlsError(format!(
            "the {what} file {} is larger than {MAX_PEM_FILE} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

fn load(cert: &Path, key: &Path, provider: &Arc<CryptoProvider>) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read(cert, "certificate")?;
    let key_pem = read(key, "key")?;
    let pair = parse(&cert_pem, &key_pem, provider).map_err(|TlsError(error)| {
        TlsError(format!(
            "{error} (certificate {}, key {})",
            cert.display(),
            key.display()
        ))
    });
    // The key's PEM text is not kept around.
    drop(key_pem);
    pair
}

fn parse(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &Arc<CryptoProvider>,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError(format!("the certificate is not valid PEM: {error}")))?;
    if chain.is_empty() {
        return Err(TlsError("no certificate (PEM) found".to_owned()));
    }
    // The key's errors say what is wrong, never what was read.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| {
        TlsError(match error {
            pem::Error::NoItemsFound => "no private key (PEM) found".to_owned(),
            _ => "the private key is not valid PEM".to_owned(),
        })
    })?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|error| TlsError(format!("unusable certificate and key: {error}")))
}

/// As [`serve_hub`](crate::serve_hub), over TLS: serves `app` (which
/// should include [`EmbeddedHub::router`]) on `listener` until `shutdown`
/// completes, each connection speaking HTTP/2 or HTTP/1.1 as ALPN chose
/// (HTTP/1.1 when the client offers no ALPN), with the certificate `tls`
/// holds when the connection's handshake starts.
///
/// The hub's limits apply as on cleartext (see
/// [`serve_hub`](crate::serve_hub)): connections are admitted against
/// [`max_connections`](crate::HubConfigBuilder::max_connections) and
/// [`max_connections_per_address`](crate::HubConfigBuilder::max_connections_per_address)
/// before their handshake (one beyond the caps is answered in plain text,
/// which a TLS client reads as a failed handshake, and closed), the
/// handshake must complete within
/// [`head_timeout`](crate::HubConfigBuilder::head_timeout), then the
/// request head (HTTP/1.1, 408 or 431 beyond) or the first stream
/// (HTTP/2) within the head timeout again; HTTP/2 streams beyond a
/// connection's first count against its address, a client that stops
/// reading for 60 s is disconnected, and shutdown drains as on cleartext.
/// Every request, subscriptions included, is served by hyper and `app`
/// (there is no lean path over TLS), so layers added to `app` see them all.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve_hub_tls<F>(
    listener: TcpListener,
    hub: EmbeddedHub,
    app: Router,
    tls: TlsConfigSource,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let admission = Admission::new(Limits::of(hub.config()));
    let head_timeout = admission.limits().head_timeout;
    drop(hub);
    super::accept_until(listener, &admission, shutdown, |accepted, watch| {
        tokio::spawn(connection(
            accepted,
            tls.acceptor(),
            app.clone(),
            head_timeout,
            watch.signal,
            watch._alive,
        ));
    })
    .await;
    Ok(())
}

/// Serves one admitted connection: the handshake, then hyper.
async fn connection(
    accepted: Connection,
    acceptor: TlsAcceptor,
    app: Router,
    head_timeout: Duration,
    mut signal: watch::Receiver<()>,
    alive: tokio::sync::mpsc::Sender<()>,
) {
    let Connection {
        stream,
        permit,
        peer,
        started,
    } = accepted;
    let handshake = tokio::time::timeout_at(
        crate::time::deadline(started, head_timeout),
        acceptor.accept(stream),
    );
    let mut stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake not completed within the head timeout");
                return;
            }
        },
        _ = signal.changed() => return,
    };
    let started = tokio::time::Instant::now();
    let (prefix, protocol) = if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        // hyper reads the preface; the idle bound of HTTP/2 connections
        // (no stream within the head timeout) covers a silent client.
        (Bytes::new(), Protocol::Http2)
    } else {
        let mut head = Vec::with_capacity(1024);
        let read = tokio::select! {
            read = lean::read_head(&mut stream, &mut head, head_timeout) => read,
            _ = signal.changed() => return,
        };
        let Some(protocol) = lean::protocol_of(read, &mut stream).await else {
            return;
        };
        (Bytes::from(head), protocol)
    };
    connection::serve(
        Connection {
            stream,
            permit,
            peer,
            started,
        },
        prefix,
        protocol,
        app,
        head_timeout,
        Some(signal),
        // Over TLS every request goes through the router, whose handlers
        // apply the rate limits.
        None,
    )
    .await;
    drop(alive);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pairs_are_refused_without_their_content() {
        let provider = provider();
        let error = parse(b"", b"", &provider).unwrap_err();
        assert_eq!(error.to_string(), "no certificate (PEM) found");
        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n";
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = parse(cert.as_bytes(), secret.as_bytes(), &provider).unwrap_err();
        assert_eq!(error.to_string(), "the private key is not valid PEM");
        let error = parse(cert.as_bytes(), b"no key here", &provider).unwrap_err();
        assert_eq!(error.to_string(), "no private key (PEM) found");
    }
}
