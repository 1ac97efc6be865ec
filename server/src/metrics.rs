//! Prometheus metrics: request counts and latencies, and the dedup counters.

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::Instant;

/// Names of the dedup counters, one place for all of them.
pub mod dedup {
    /// A key repeated with the same payload, answered from its stored response.
    pub const REPLAYS: &str = "dedup_replays_total";
    /// A create answered with the conversation that existed for the same natural key.
    pub const NATURAL_KEY_MERGES: &str = "dedup_natural_key_merges_total";
    /// A message whose `local_id` was stored already, answered with the stored one.
    pub const LOCAL_ID_DUPLICATES: &str = "dedup_local_id_duplicates_total";
    /// A batch of chat messages whose insert met a `local_id` stored before, so it was
    /// written again, reading first: twice the work, worth seeing if it grows common.
    pub const BATCHES_WRITTEN_AGAIN: &str = "dedup_batches_written_again_total";
    /// A key or local_id repeated with a different payload (refused with 422).
    pub const MISMATCHES: &str = "dedup_mismatches_total";
    /// A key repeated while its first request was running (409).
    pub const IN_FLIGHT: &str = "dedup_in_flight_conflicts_total";
    /// Keys past their retention, swept or replaced.
    pub const EXPIRED_KEYS: &str = "idempotency_keys_expired_total";
}

/// The process-wide recorder; installed once, shared by every router in the process.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .expect("buckets are non-empty");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (not ours): render an empty registry.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

pub async fn track_requests(request: Request, next: Next) -> Response {
    let path = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let path = path.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (requests, duration) = request_series(method, response.status(), path);
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    response
}

/// A request series' count and duration.
type Series = (Counter, Histogram);

/// Request series by method and status, then by route.
type SeriesByRoute = HashMap<(&'static str, StatusCode), HashMap<String, Series>>;

/// The request series' handles, by method and status, then route. Naming a series by its
/// labels builds its key and looks it up in the registry, a few per cent of a small
/// request's CPU; a handle is only recorded into. Bounded: methods, statuses and routes
/// are closed sets (`method_label`, the handlers' answers, the router's paths).
static REQUEST_SERIES: LazyLock<RwLock<SeriesByRoute>> = LazyLock::new(RwLock::default);

fn request_series(method: &'static str, status: StatusCode, path: &str) -> Series {
    let known = REQUEST_SERIES.read().ok().and_then(|series| {
        series
            .get(&(method, status))
            .and_then(|by_path| by_path.get(path))
            .cloned()
    });
    if let Some(series) = known {
        return series;
    }
    let labels = [
        ("method", method.to_owned()),
        ("path", path.to_owned()),
        ("status", status.as_u16().to_string()),
    ];
    let series = (
        metrics::counter!("http_requests_total", &labels),
        metrics::histogram!("http_request_duration_seconds", &labels),
    );
    if let Ok(mut known) = REQUEST_SERIES.write() {
        known
            .entry((method, status))
            .or_default()
            .insert(path.to_owned(), series.clone());
    }
    series
}

/// A label from a closed set: any token is a valid HTTP method, and each new label value
/// would be a new series kept for the life of the process.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
