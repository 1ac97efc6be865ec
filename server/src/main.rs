use server::config::Config;
use server::startup::Application;
use server::telemetry;

// malloc and free were a fifth of a replayed send's CPU time with glibc's allocator.
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
