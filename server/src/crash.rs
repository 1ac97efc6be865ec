//! Fault points for the crash tests. Built with the `failpoints` feature and started
//! with, say, `FAILPOINTS=before_commit=2%return;after_commit=2%return`, the process
//! aborts at a named point as if killed there; `…=1*sleep(3000)` delays the first pass
//! instead (the `fail` crate's actions). Without the feature a point is nothing.

/// Sets up the points named in `FAILPOINTS`; keep the guard for the process's life.
#[cfg(feature = "failpoints")]
pub fn from_env() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}

/// Aborts the process here when `name` is configured to fire.
pub fn point(name: &str) {
    #[cfg(feature = "failpoints")]
    {
        let fire = || {
            fail::fail_point!(name, |_| {
                tracing::error!(point = name, "fault point fired: aborting");
                std::process::abort()
            });
        };
        // A `sleep` action blocks its thread: off the runtime's worker, or that worker's
        // queued tasks (and the I/O it drives) would wait with it.
        let on_workers = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
            runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if on_workers {
            tokio::task::block_in_place(fire);
        } else {
            fire();
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
