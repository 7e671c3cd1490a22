//! OpenTelemetry export of the hub's spans (feature `otlp`).
//!
//! The hub opens `tracing` spans named as the official hub's:
//! `mercure.publish`, `mercure.subscribe`, `mercure.subscriptions` and
//! `mercure.transport.history` (a page of history replayed), at `DEBUG`
//! level (so a log at `info` does not pay for them). [`layer`] sends them
//! to an OpenTelemetry tracer, whatever the log filter says; [`exporter`]
//! builds one that sends them to an OTLP collector over HTTP (protobuf).
//! The W3C trace context of a request (`traceparent`, `tracestate`) is the
//! parent of its span, so that a publish joins its publisher's trace.

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use crate::Error;

/// The instrumentation scope the spans are reported under.
pub const SCOPE: &str = "mercure-hub";

/// A tracer provider exporting to the OTLP/HTTP collector at `endpoint`
/// (its base URL, such as `http://localhost:4318`: `/v1/traces` is
/// appended unless the URL already has a path), in batches, as the
/// service `service_name`. Call [`SdkTracerProvider::shutdown`] before
/// exiting to send the last spans.
///
/// # Errors
/// [`Error::InvalidConfig`] for an endpoint that is not an http(s) URL or
/// an exporter that cannot be built.
pub fn exporter(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, Error> {
    use opentelemetry_otlp::WithExportConfig;
    let mut url = url::Url::parse(endpoint)
        .map_err(|e| Error::InvalidConfig(format!("invalid OTLP endpoint {endpoint:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidConfig(format!(
            "the OTLP endpoint {endpoint:?} must be an http(s) URL"
        )));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/v1/traces");
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url.as_str())
        .build()
        .map_err(|e| Error::InvalidConfig(format!("cannot build the OTLP exporter: {e}")))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// A `tracing` layer sending the hub's spans (those named `mercure.*`) to
/// `provider`'s tracer; events are not sent. Add it beside the log layer:
/// it has its own filter.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SCOPE))
        .with_filter(filter_fn(|metadata| {
            metadata.is_span() && metadata.name().starts_with("mercure.")
        }))
}

/// Makes the W3C trace context of `headers`, if any, the parent of `span`.
pub(crate) fn set_parent(span: &tracing::Span, headers: &HeaderMap) {
    if span.is_disabled() || !headers.contains_key("traceparent") {
        return;
    }
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    // Fails only when no OpenTelemetry layer is installed.
    let _ = span.set_parent(context);
}

/// The request's headers, as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
