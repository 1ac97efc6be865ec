//! Building the router and running the server. [`router`] needs no socket, so tests can
//! drive it with `oneshot`; [`Application`] binds a real port (0 in tests).

use crate::config::Config;
use crate::connections::{ConnectionLimits, SHUTDOWN_MARGIN};
use crate::error::log_unexpected;
use crate::events::Hub;
use crate::routes::{agencies, chat, conversations, session, system};
use crate::state::AppState;
use crate::{auth, expiry, metrics, request_limits, security};
use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::Request;
use axum::http::{HeaderValue, header};
use axum::routing::{any, get};
use leptos::config::LeptosOptions;
use messaging_core::{MAX_REQUEST_BODY_BYTES, Problem};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The API's routes, each registered with its OpenAPI description so the two cannot drift.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            session::sign_in,
            session::sign_out,
            session::current_user
        ))
        .routes(routes!(agencies::list_agencies))
        .routes(routes!(agencies::get_agency))
        .routes(routes!(
            conversations::list_conversations,
            conversations::create_conversation
        ))
        .routes(routes!(conversations::get_conversation))
        .routes(routes!(conversations::list_messages))
        .routes(routes!(conversations::get_message))
        .routes(routes!(conversations::stream_messages))
        .routes(routes!(chat::send_chat_message))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Idempotent messaging API",
        description = "Conversations and chat messages that are never created twice. Errors are RFC 9457 problem+json bodies with a stable `code`."
    ),
    // The problem answers refer to it by name (see `routes::problems`).
    components(schemas(Problem)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// The whole HTTP surface: API, health, metrics, static bundle and server-rendered pages.
#[cfg(feature = "demo")]
pub fn router(state: AppState) -> Router {
    let pages = demo_site(&state);
    with_middleware(api_router().merge(pages), state)
}

/// The API under `/api`, with `/healthz` and `/metrics`: what an app serving its own
/// pages beside the API merges its routes into (see `examples/`), before
/// [`with_middleware`].
pub fn api_router() -> Router<AppState> {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api_routes())
        .split_for_parts();
    let openapi = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    api.route(
        "/api/openapi.json",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                (*openapi).clone(),
            )
        }),
    )
    .route("/api/{*rest}", any(system::api_not_found))
    .method_not_allowed_fallback(system::method_not_allowed)
    .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
    .route("/healthz", get(system::healthz))
    .route("/metrics", get(system::metrics))
}

/// The demo's pages, its server functions and its browser bundle.
#[cfg(feature = "demo")]
fn demo_site(state: &AppState) -> Router<AppState> {
    use crate::page_data::ServerPageData;
    use leptos::prelude::provide_context;
    use leptos_axum::handle_server_fns_with_context;
    use site::data::{PageData, SERVER_FN_PREFIX};

    let page_data: Arc<dyn PageData> = Arc::new(ServerPageData {
        state: state.clone(),
    });
    let provide_page_data = move || {
        provide_context(Arc::clone(&page_data));
        crate::security::set_page_policy();
    };
    let server_fns = {
        let provide = provide_page_data.clone();
        move |request: Request<Body>| handle_server_fns_with_context(provide.clone(), request)
    };
    let pages = demo_pages(state, provide_page_data);
    Router::new()
        .route(
            &format!("{SERVER_FN_PREFIX}/{{*name}}"),
            get(server_fns.clone()).post(server_fns),
        )
        .nest_service("/pkg", bundle_files(&state.leptos_options))
        .merge(pages)
        // Server functions are routed by `leptos_routes` too, each by its own path: the
        // limit they read their bodies under (axum's default is 2 MB) and their errors.
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(axum::middleware::map_response(
            unreadable_arguments_are_bad_requests,
        ))
}

/// The demo's pages, rendered with `provide` (their data and security policy in
/// context), and the shell's files and errors.
#[cfg(feature = "demo")]
fn demo_pages(
    state: &AppState,
    provide: impl Fn() + Clone + Send + Sync + 'static,
) -> Router<AppState> {
    use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context};
    use site::shell;
    use tower_http::compression::CompressionLayer;

    // Pages are compressed on the fly for browsers that accept it (a conversation page is
    // mostly repeated markup); the API's answers are small and stay as they are. Not in
    // brotli: its encoder sets up megabytes of state for each response (tower-http offers
    // no smaller window), as much work as rendering the page. zstd (Chrome, Firefox) costs
    // little more than sending the page raw, gzip (the other browsers) less than brotli,
    // for 6% and 14% more bytes than brotli's (`bench/FINDINGS.md`). The bundles are
    // brotli files made at build time (`bundle_files`), which costs nothing per request.
    Router::new()
        .leptos_routes_with_context(state, demo_routes(), provide, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        // Each rendering carries fresh ids for its forms (a message's `local_id`, a
        // request's idempotency key). Browsers show a page they keep again on Back
        // without asking (even under `no-cache`), and a message written there would go
        // under an id already used: refused as a reuse, or taken for a repeat and
        // dropped. Only a page never kept is rendered anew.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            crate::security::set_page_policy,
            shell,
        ))
        .layer(CompressionLayer::new().no_br())
}

/// server_fn answers a form post whose fields it cannot read (one missing, an id that is
/// no UUID, a body past the limit) with a 500 and the error as text (`Args|…`,
/// `Deserialization|…`): the client's mistake, so a 400 (413) problem here. Its other
/// answers go on as they are.
#[cfg(feature = "demo")]
async fn unreadable_arguments_are_bad_requests(
    response: axum::response::Response,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    /// Far above an argument error's text, which names the field and what was wrong.
    const ERROR_TEXT_LIMIT: usize = 16 * 1024;
    let from_a_server_function = response
        .headers()
        .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if response.status() != http::StatusCode::INTERNAL_SERVER_ERROR || !from_a_server_function {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(text) = axum::body::to_bytes(body, ERROR_TEXT_LIMIT).await else {
        return crate::error::ApiError::from(anyhow::anyhow!("a server function's error"))
            .into_response();
    };
    // The body limit, met while the arguments were read.
    if text.starts_with(b"Deserialization|") && text.ends_with(b"length limit exceeded") {
        return crate::error::ApiError::payload_too_large().into_response();
    }
    if text.starts_with(b"Args|") || text.starts_with(b"Deserialization|") {
        return crate::error::ApiError::new(
            messaging_core::ProblemCode::MalformedBody,
            "The form's fields could not be read.",
        )
        .into_response();
    }
    axum::response::Response::from_parts(parts, Body::from(text))
}

/// The demo's page routes, generated once per process: generating them renders the
/// whole app in a special mode (leptos_axum 0.8), and a page rendered at the same time on
/// the same runtime can then wait for ever (a 408 at the request deadline). Tests build
/// a router per test, in parallel, and met it.
#[cfg(feature = "demo")]
fn demo_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| leptos_axum::generate_route_list(site::App))
        .clone()
}

/// What every route gets: request ids, tracing, the log of unexpected errors, metrics,
/// the request's deadline, body limit and share of the memory for bodies, the refusal of
/// cross-site writes and the security headers; then the state.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let hsts = state.config.production.then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    // One layer for the whole stack (outermost first): the router boxes each route once
    // per `.layer` call and clones every box per request.
    routes
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(state.config.client_ip_source.clone().into_extension())
                .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(security_header(
                    header::REFERRER_POLICY,
                    "strict-origin-when-cross-origin",
                ))
                // No other site may frame anything (a framed Send message dialog can be
                // clicked through by a page that hides it): the CSP for browsers that
                // read it (pages set their fuller one, `security`), X-Frame-Options for
                // the others.
                .layer(security_header(
                    header::CONTENT_SECURITY_POLICY,
                    security::NOT_A_PAGE,
                ))
                .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
                .option_layer(hsts)
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(log_unexpected))
                .layer(axum::middleware::from_fn(metrics::track_requests))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    request_limits::request_deadline,
                ))
                .layer(axum::middleware::from_fn(
                    request_limits::refuse_announced_oversize,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    request_limits::count_body_memory,
                ))
                .layer(axum::middleware::from_fn(security::refuse_cross_site)),
        )
        .with_state(state)
}

fn security_header(
    name: header::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// The tracing span of a request: its route, not its raw path, and its request id.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    tracing::info_span!("request", method = %request.method(), path, request_id)
}

/// The browser bundle under `/pkg`. Browsers that accept brotli or gzip get the copies
/// `scripts/build-site` wrote beside each file (the wasm is a third of its size in
/// brotli); the names carry no content hash, so browsers revalidate (304 when unchanged).
pub fn bundle_files(options: &LeptosOptions) -> SetResponseHeader<ServeDir, HeaderValue> {
    let dir = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    SetResponseHeader::overriding(
        ServeDir::new(dir).precompressed_br().precompressed_gzip(),
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    )
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    hub: Hub,
    limits: ConnectionLimits,
}

impl Application {
    /// The demo: the API and the demo site.
    #[cfg(feature = "demo")]
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, router).await
    }

    /// The API and whatever routes `routes` makes around it (see [`api_router`]).
    pub async fn build_with(
        config: Config,
        routes: impl FnOnce(AppState) -> Router,
    ) -> anyhow::Result<Self> {
        let mut limits = config.connection_limits;
        limits.max_connections = limits.max_connections.min(connections_allowed_by_os());
        limits.shutdown_grace = config.request_timeout.saturating_add(SHUTDOWN_MARGIN);
        let listener = TcpListener::bind(config.site_addr)
            .await
            .with_context(|| format!("Failed to bind {}", config.site_addr))?;
        let addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        let state = AppState::new(config, addr).await?;
        expiry::spawn_expiry_sweeper(state.messaging.db.clone(), expiry::SWEEP_EVERY);
        let hub = state.messaging.hub.clone();
        Ok(Self {
            listener,
            router: routes(state),
            hub,
            limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        crate::connections::serve(self.listener, self.router, self.limits, async move {
            shutdown_signal().await;
            // Live streams never end on their own; end them so shutdown can finish.
            self.hub.close();
        })
        .await;
        Ok(())
    }
}

/// Descriptors kept for everything that is not a client connection: the database, the
/// bundle's files, the log.
const RESERVED_FILES: u64 = 256;

/// Each connection holds a file descriptor: the soft limit (often 1,024) goes up to the
/// hard limit the operator allows, so it is not what turns visitors away; the connection
/// cap stays under it, so `accept` does not fail (the cap sheds idle connections instead).
fn connections_allowed_by_os() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    tracing::debug!(limit, "open-file limit");
    usize::try_from(limit.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A request still within its deadline at shutdown gets its answer, whatever the
    /// deadline is set to.
    #[tokio::test]
    async fn requests_in_flight_at_shutdown_may_run_to_their_deadline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::from_env().expect("default config");
        config.database_url = format!("sqlite://{}/grace.db?mode=rwc", dir.path().display());
        config.site_addr = "127.0.0.1:0".parse().expect("an address");
        config.seed_demo_data = false;
        config.request_timeout = Duration::from_secs(90);
        let app = Application::build_with(config, |state| with_middleware(api_router(), state))
            .await
            .expect("an application");
        assert_eq!(
            app.limits.shutdown_grace,
            Duration::from_secs(90) + SHUTDOWN_MARGIN
        );
    }
}
