//! The HTTP accept loop: hyper's, with the bounds a public server needs and axum's
//! `serve` lacks. A connection gets a limited time to send its first request's headers
//! (hyper's header timer, which axum never installs, covers HTTP/1; the idle watch below
//! covers the protocol sniffing and HTTP/2), a limited time with no request in flight
//! (keep-alive and HTTP/2 alike: HTTP/2 pings alone do not keep a connection), the same
//! time for a response the peer does not take (hyper asks a body for more only as the
//! peer reads, or grants HTTP/2 flow-control window: a live stream sends a keep-alive
//! well within it), a limited wait for the requests in flight at shutdown, and there
//! is a cap on open connections: past it the longest-idle connection is closed to make
//! room, and only when none is idle is the newcomer turned away. Each request carries
//! the peer's address (`ConnectInfo`). The whole-request deadline and the early 413 are
//! middleware (`request_limits`), so router tests see them too.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use messaging_core::MAX_REQUEST_BODY_BYTES;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The transport's bounds: each is configurable (see `Config`), but the shutdown grace,
/// which follows the request deadline (`Application::build_with` sets it).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers, counted from the moment
    /// the server waits for them: a new connection's first request, and a keep-alive
    /// HTTP/1 connection's next one (Go's `ReadHeaderTimeout`).
    pub header_read: Duration,
    /// How long a connection that has sent a request may stay open with none in flight,
    /// or with responses of which the peer takes nothing. An HTTP/1 keep-alive connection
    /// is cut sooner, by `header_read`, as it waits for its next request's headers; this
    /// is the limit of HTTP/2 connections.
    pub idle: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long, at shutdown, the requests in flight may take to finish before their
    /// connections are dropped (live streams are ended by the hub at once): the request
    /// deadline, by which their handlers have answered, and [`SHUTDOWN_MARGIN`].
    pub shutdown_grace: Duration,
}

/// What the requests in flight at shutdown get beyond their deadline: time for the
/// answer a handler gave at its deadline to reach the peer.
pub const SHUTDOWN_MARGIN: Duration = Duration::from_secs(10);

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(5),
            idle: Duration::from_secs(60),
            max_connections: 10_000,
            // The default request deadline's, for servers started without a `Config`.
            shutdown_grace: Duration::from_secs(30) + SHUTDOWN_MARGIN,
        }
    }
}

/// How long a connection asked to close (idle, shed or at shutdown with nothing in
/// flight) may take to do so before it is dropped: an HTTP/2 peer must acknowledge the
/// GOAWAY's ping.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Requests one HTTP/2 connection may have in flight at once (hyper's default is 200;
/// nginx's 128, Apache's 100).
const H2_MAX_STREAMS: u32 = 100;

/// What an HTTP/2 peer may send before the server reads it: a request's body at most
/// (hyper's default is 1 MiB), and four of them on one connection (1 MiB too). Bodies
/// the server has read are counted by `request_limits::count_body_memory`.
const H2_STREAM_WINDOW: u32 = MAX_REQUEST_BODY_BYTES as u32;
const H2_CONNECTION_WINDOW: u32 = 4 * H2_STREAM_WINDOW;

/// HTTP/2 pings: a peer that stops answering them is gone.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);

/// Serves until `shutdown` resolves, then waits for the requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let builder = connection_builder(limits);
    let registry = Arc::new(Registry::default());
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(activity) = registry.admit(limits.max_connections) else {
            metrics::counter!("http_connections_refused_total").increment(1);
            tracing::warn!(%peer, "connection cap reached and no connection idle: refused");
            continue;
        };
        let connection = Connection {
            stream,
            peer,
            activity,
        };
        connections.spawn(connection.run(
            builder.clone(),
            router.clone(),
            limits,
            Arc::clone(&registry),
            closing.clone(),
        ));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
}

fn connection_builder(limits: ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_INTERVAL)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW);
    builder
}

/// Why the server closes a connection.
#[derive(Debug)]
enum Closing {
    Shutdown,
    /// The cap needed its place.
    Shed,
    Idle,
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl Connection {
    async fn run(
        self,
        builder: Builder<TokioExecutor>,
        router: Router,
        limits: ConnectionLimits,
        registry: Arc<Registry>,
        closing: CancellationToken,
    ) {
        let Self {
            stream,
            peer,
            activity,
        } = self;
        let _ = stream.set_nodelay(true);
        let service = {
            let activity = Arc::clone(&activity);
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                handle(router.clone(), peer, activity.begin_request(), request)
            })
        };
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let mut connection = std::pin::pin!(connection);
        let reason = tokio::select! {
            result = connection.as_mut() => {
                log_end(result);
                registry.release(&activity);
                return;
            }
            () = closing.cancelled() => Closing::Shutdown,
            () = activity.shed.notified() => Closing::Shed,
            () = activity.idle_too_long(limits) => Closing::Idle,
        };
        tracing::debug!(%peer, ?reason, "closing the connection");
        connection.as_mut().graceful_shutdown();
        // At shutdown the requests in flight may finish (streams are ended by the hub);
        // an idle or shed connection has none, so it only waits for the peer.
        let grace = match reason {
            Closing::Shutdown => limits.shutdown_grace,
            Closing::Shed | Closing::Idle => CLOSE_GRACE,
        };
        let ended = tokio::time::timeout(grace, connection).await;
        if let Ok(result) = ended {
            log_end(result);
        }
        registry.release(&activity);
    }
}

/// One request: its peer address in the extensions, and counted in flight until its
/// response body is finished or dropped (a live stream is a request in flight); each
/// frame of that body counts as the connection's progress.
async fn handle(
    router: Router,
    peer: SocketAddr,
    in_flight: InFlight,
    mut request: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(request).await?;
    let responding = in_flight.responding();
    Ok(response.map(|body| {
        // The guard lives as long as the body: it ends when hyper has sent or dropped it.
        Body::new(body.map_frame(move |frame| {
            responding.sent_a_frame();
            frame
        }))
    }))
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection closed with an error");
    }
}

/// What the idle watch and the cap know of one connection.
struct Activity {
    id: u64,
    state: Mutex<ActivityState>,
    /// Asks the connection to close: the cap needs its place.
    shed: Notify,
}

struct ActivityState {
    in_flight: usize,
    idle_since: Instant,
    /// Responses whose bodies are being sent, and when one of them last gave hyper a frame.
    responding: usize,
    last_frame: Instant,
    /// Whether a request has begun: until then the header limit applies, not the idle one.
    requested: bool,
    /// Whether it was asked to close, so the cap does not count on it twice.
    shedding: bool,
}

impl Activity {
    fn new(id: u64) -> Self {
        Self {
            id,
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                responding: 0,
                last_frame: Instant::now(),
                requested: false,
                shedding: false,
            }),
            shed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        // The state is plain numbers, consistent after any panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.requested = true;
        InFlight(Arc::clone(self))
    }

    /// When the connection has waited too long with nothing in flight, or with responses
    /// the peer does not take; `None` while only handlers are at work (their deadline is
    /// the request's).
    fn idle_deadline(&self, limits: ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            return (state.responding > 0).then_some(state.last_frame + limits.idle);
        }
        let limit = if state.requested {
            limits.idle
        } else {
            limits.header_read
        };
        Some(state.idle_since + limit)
    }

    /// Resolves once the connection has been idle past its limit.
    async fn idle_too_long(&self, limits: ConnectionLimits) {
        loop {
            match self.idle_deadline(limits) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                // Busy: look again later (a request may end at any time).
                None => tokio::time::sleep(limits.header_read).await,
            }
        }
    }
}

/// A request in flight on its connection.
struct InFlight(Arc<Activity>);

impl InFlight {
    /// Its handler has answered: the body is sent from now on.
    fn responding(self) -> Responding {
        let mut state = self.0.state();
        state.responding += 1;
        state.last_frame = Instant::now();
        drop(state);
        Responding(self)
    }
}

/// A request whose response body is being sent.
struct Responding(InFlight);

impl Responding {
    fn sent_a_frame(&self) {
        self.0.0.state().last_frame = Instant::now();
    }
}

impl Drop for Responding {
    fn drop(&mut self) {
        self.0.0.state().responding -= 1;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// The open connections, for the cap.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

impl Registry {
    /// Registers a new connection. At the cap it first asks the longest-idle connection
    /// to close, and refuses the newcomer (`None`) when no connection is idle.
    fn admit(&self, max_connections: usize) -> Option<Arc<Activity>> {
        let mut open = self.open();
        if open.len() >= max_connections {
            Self::shed_longest_idle(&open)?;
        }
        let activity = Arc::new(Activity::new(self.next_id.fetch_add(1, Ordering::Relaxed)));
        open.insert(activity.id, Arc::clone(&activity));
        metrics::gauge!("http_connections_open").set(open.len() as f64);
        Some(activity)
    }

    fn shed_longest_idle(open: &HashMap<u64, Arc<Activity>>) -> Option<()> {
        let (_, longest_idle) = open
            .values()
            .filter_map(|activity| {
                let state = activity.state();
                (state.in_flight == 0 && !state.shedding).then_some((state.idle_since, activity))
            })
            .min_by_key(|(idle_since, _)| *idle_since)?;
        longest_idle.state().shedding = true;
        longest_idle.shed.notify_one();
        metrics::counter!("http_connections_shed_total").increment(1);
        Some(())
    }

    fn release(&self, activity: &Activity) {
        let mut open = self.open();
        open.remove(&activity.id);
        metrics::gauge!("http_connections_open").set(open.len() as f64);
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
