//! The example's server: this app's pages, rendered on the server, beside the API.
//! `LEPTOS_SITE_ROOT` is where `scripts/build-examples` put the bundle and stylesheet;
//! the rest is the API server's configuration (`DATABASE_URL`, `LEPTOS_SITE_ADDR`, ...).

use axum::Router;
use example_hydrate::{App, OUTPUT_NAME, shell};
use leptos_axum::{LeptosRoutes, generate_route_list};
use server::config::Config;
use server::startup::{Application, api_router, with_middleware};
use server::state::AppState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut config = Config::from_env()?;
    config.output_name = OUTPUT_NAME.to_owned();
    let application = Application::build_with(config, pages_beside_the_api).await?;
    application.run_until_stopped().await
}

fn pages_beside_the_api(state: AppState) -> Router {
    let options = state.leptos_options.clone();
    let site_root = std::path::PathBuf::from(&*options.site_root);
    let pages = Router::new()
        // Every page gets the Content-Security-Policy on the nonce of its scripts.
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            server::security::set_page_policy,
            move || shell(options.clone()),
        )
        .nest_service("/pkg", server::startup::bundle_files(&state.leptos_options))
        .route_service(
            "/style.css",
            tower_http::services::ServeFile::new(site_root.join("style.css")),
        );
    with_middleware(api_router().merge(pages), state)
}
