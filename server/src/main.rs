use server::config::Config;
use server::startup::Application;
use server::telemetry;

// The request path allocates many small short-lived objects, which mimalloc serves
// faster than glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    #[cfg(feature = "failpoints")]
    let _fault_points = server::crash::from_env();
    let config = Config::from_env()?;
    let application = Application::build(config).await?;
    application.run_until_stopped().await
}
