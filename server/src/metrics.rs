//! `/metrics` in Prometheus' text format, through the `metrics` facade and its Prometheus
//! exporter (kept crates: the facade's macros cost a map lookup where they run, and the
//! exporter renders what they recorded): the realtime hub (sockets, rooms, subscriptions,
//! frames in and out, deliveries, resyncs, slow consumers, publish-to-dispatch latency),
//! server functions (latency and errors by name) and the database pool. Gauges are read
//! when scraped; counters and histograms are recorded where things happen, off the
//! per-delivery path (deliveries are counted per dispatched batch).
//!
//! With a token set (`--metrics-token`), a scrape must send `Authorization: Bearer
//! <token>`; without one, `/metrics` is open (keep it behind the proxy).

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Buckets of every `*_seconds` histogram, seconds (0.5 ms to 5 s).
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on the first call (one per process: the
/// tests' several apps share it). `None` when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Counts a frame a socket received.
pub fn frame_in() {
    metrics::counter!("tandem_frames_in_total").increment(1);
}

/// Counts `n` frames written to sockets (by a writer in one flush, or by the direct path).
pub fn frames_out(n: u64) {
    metrics::counter!("tandem_frames_out_total").increment(n);
}

/// Counts `n` frames handed to subscriptions by the dispatcher, and how long the oldest
/// of them waited between its publish and its dispatch.
pub fn dispatched(n: usize, published: Instant) {
    metrics::counter!("tandem_deliveries_total").increment(n as u64);
    metrics::histogram!("tandem_event_publish_to_dispatch_seconds")
        .record(published.elapsed().as_secs_f64());
}

/// Counts a subscription told to resync.
pub fn resync() {
    metrics::counter!("tandem_resyncs_total").increment(1);
}

/// Counts a socket dropped behind as too slow (its rooms told to resync).
pub fn slow_consumer() {
    metrics::counter!("tandem_slow_consumers_total").increment(1);
}

/// Counts `n` messages for the other nodes that could not be sent to Redis (its queue was
/// full, or Redis failed); the change log fills what they carried.
pub fn bus_dropped(n: usize) {
    metrics::counter!("tandem_bus_dropped_total").increment(n as u64);
}

/// Records a message from another node and how long it took, ms (the bus lag:
/// `tandem_bus_lag_seconds`).
pub fn bus_received(lag_ms: i64) {
    metrics::counter!("tandem_bus_received_total").increment(1);
    metrics::histogram!("tandem_bus_lag_seconds").record(lag_ms.max(0) as f64 / 1000.0);
}

/// Whether this node's subscription to the Redis bus is up (`tandem_bus_connected`).
pub fn bus_connected(up: bool) {
    metrics::gauge!("tandem_bus_connected").set(if up { 1.0 } else { 0.0 });
}

/// The names server functions are labelled with: every registered one (so a request to
/// an unknown path cannot grow the label set; those are `other`).
fn known_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: HashSet<String> = leptos::server_fn::axum::server_fn_paths()
            .filter_map(|(path, _)| path.strip_prefix("/api/").map(str::to_string))
            .collect();
        names.extend(["import_crm".to_string(), "export_activity".to_string()]);
        names
    })
}

/// Middleware: records each `/api/<name>` call's latency (`tandem_server_fn_seconds`) and,
/// for an answer of 400 or more, an error (`tandem_server_fn_errors_total`), by name.
pub async fn track_server_fns(request: Request, next: Next) -> Response {
    let Some(name) = request.uri().path().strip_prefix("/api/").map(|n| {
        if known_names().contains(n) {
            n.to_string()
        } else {
            "other".to_string()
        }
    }) else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!("tandem_server_fn_seconds", "name" => name.clone())
        .record(started.elapsed().as_secs_f64());
    if response.status().as_u16() >= 400 {
        metrics::counter!("tandem_server_fn_errors_total", "name" => name).increment(1);
    }
    response
}

/// `GET /metrics`: the gauges read now and everything recorded, in Prometheus' text
/// format. 401 without the bearer token when one is set; 503 when no recorder could be
/// installed.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = state.metrics_token.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is needed",
            )
                .into_response();
        }
    }
    let Some(handle) = handle() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder").into_response();
    };
    metrics::gauge!("tandem_sockets_open").set(state.hub.socket_count() as f64);
    metrics::gauge!("tandem_rooms").set(state.hub.room_count() as f64);
    metrics::gauge!("tandem_subscriptions").set(state.hub.subscription_count() as f64);
    // Tokio's own count of tasks not yet finished: a leak of tasks shows here first.
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    metrics::gauge!("tandem_tasks_alive").set(tasks as f64);
    let pool = state.db.sql.pool();
    let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
    metrics::gauge!("tandem_db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("tandem_db_pool_connections", "state" => "idle").set(idle);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
