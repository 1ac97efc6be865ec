//! The example's server: `index.html`, the bundle and the stylesheet from
//! `LEPTOS_SITE_ROOT` (where `scripts/build-examples` put them), beside the API; every
//! other address gets `index.html`, and the app picks its screen from the address.

use axum::Router;
use server::config::Config;
use server::startup::{Application, api_router, with_middleware};
use server::state::AppState;
use tower_http::services::{ServeDir, ServeFile};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let config = Config::from_env()?;
    let application = Application::build_with(config, files_beside_the_api).await?;
    application.run_until_stopped().await
}

fn files_beside_the_api(state: AppState) -> Router {
    let root = std::path::PathBuf::from(&*state.leptos_options.site_root);
    let files = ServeDir::new(&root).fallback(ServeFile::new(root.join("index.html")));
    with_middleware(api_router().fallback_service(files), state)
}
