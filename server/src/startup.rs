//! Building the router and running the server. [`router`] needs no socket, so tests can
//! drive it with `oneshot`; [`Application`] binds a real port (0 in tests).

use crate::config::Config;
use crate::db::{Db, seed};
use crate::events::Hub;
use crate::idempotency::{self, Idempotency};
use crate::routes::{agencies, chat, conversations, session, system};
use crate::{auth, metrics};
use anyhow::Context;
use app::{App, shell};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath};
use axum::http::Request;
use axum::routing::{get, post};
use governor::DefaultKeyedRateLimiter;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};
use messaging_core::MAX_REQUEST_BODY_BYTES;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Everything a handler may need, cloned per request (all fields are cheap handles).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub idempotency: Idempotency,
    pub hub: Hub,
    pub sign_in_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub leptos_options: LeptosOptions,
}

impl AppState {
    /// Connects to the store (migrating it, and seeding it when asked).
    pub async fn new(config: Config, bound_addr: SocketAddr) -> anyhow::Result<Self> {
        // Install the metrics recorder before the first request can record anything.
        metrics::handle();
        let db = Db::connect(&config.database_url).await?;
        if config.seed_demo_data {
            seed::seed_if_empty(&db)
                .await
                .context("Failed to seed the demo data")?;
        }
        Ok(Self {
            leptos_options: config.leptos_options(bound_addr),
            idempotency: Idempotency::new(config.key_retention),
            config: Arc::new(config),
            db,
            hub: Hub::default(),
            sign_in_limiter: auth::sign_in_limiter(),
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/session",
            post(session::sign_in)
                .delete(session::sign_out)
                .get(session::current_user),
        )
        .route("/agencies", get(agencies::list_agencies))
        .route("/agencies/{slug}", get(agencies::get_agency))
        .route(
            "/messages/conversations",
            get(conversations::list_conversations).post(conversations::create_conversation),
        )
        .route(
            "/messages/conversations/{id}",
            get(conversations::get_conversation),
        )
        .route(
            "/messages/conversations/{id}/messages",
            get(conversations::list_messages),
        )
        .route(
            "/messages/conversations/{id}/stream",
            get(conversations::stream_messages),
        )
        .route("/chat", post(chat::send_chat_message))
        .fallback(system::api_not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
}

/// The whole HTTP surface: API, health, metrics, static bundle and server-rendered pages.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .nest("/api", api_routes())
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(auth::refuse_cross_site))
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str);
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok());
                tracing::info_span!("request", method = %request.method(), path, request_id)
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.site_addr)
            .await
            .with_context(|| format!("Failed to bind {}", config.site_addr))?;
        let addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        let state = AppState::new(config, addr).await?;
        idempotency::spawn_sweeper(state.db.clone(), Duration::from_secs(60));
        Ok(Self {
            listener,
            router: router(state),
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
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("Server error")
    }
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
