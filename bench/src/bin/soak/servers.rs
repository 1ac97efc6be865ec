//! Server processes under supervision: each keeps its port and is started again at once
//! whenever it exits (a fault point aborted it) or is killed (SIGKILL at a random
//! moment, while the faults are on).

use crate::Faults;
use anyhow::Context;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How the processes are started.
#[derive(Clone)]
pub struct Launch {
    pub server_bin: PathBuf,
    pub database_url: String,
    /// `FAILPOINTS` for the crash scenarios (see `server/src/crash.rs`).
    pub fault_points: Option<&'static str>,
    /// Where each process's log goes (`server-<port>.log`).
    pub log_dir: PathBuf,
}

#[derive(Default, serde::Serialize)]
pub struct Deaths {
    pub starts: AtomicU64,
    pub kills: AtomicU64,
    /// Exits by SIGABRT: a fault point fired.
    pub fault_point_crashes: AtomicU64,
    pub other_exits: AtomicU64,
}

impl Deaths {
    fn count_exit(&self, status: std::process::ExitStatus) {
        let counter = match status.signal() {
            Some(SIGABRT) => &self.fault_point_crashes,
            _ => &self.other_exits,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Fleet {
    pub ports: Vec<u16>,
    pub deaths: Arc<Deaths>,
    stop: CancellationToken,
    supervisors: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Starts `count` processes and waits until each answers `/healthz`. With `kill`,
    /// each is SIGKILLed every 0.3 to 1.5 s while the faults are on.
    pub async fn start(
        launch: &Launch,
        count: usize,
        kill: bool,
        faults: &Faults,
    ) -> anyhow::Result<Self> {
        let deaths = Arc::new(Deaths::default());
        let stop = CancellationToken::new();
        let mut ports = Vec::new();
        let mut supervisors = Vec::new();
        for _ in 0..count {
            let port = free_port()?;
            let first = start_until_healthy(launch, port, kill, &deaths).await?;
            ports.push(port);
            supervisors.push(tokio::spawn(supervise(
                first,
                launch.clone(),
                port,
                kill,
                faults.clone(),
                deaths.clone(),
                stop.clone(),
            )));
        }
        Ok(Self {
            ports,
            deaths,
            stop,
            supervisors,
        })
    }

    /// Stops every process (SIGKILL: nothing acknowledged may depend on a clean exit).
    pub async fn stop(self) {
        self.stop.cancel();
        for supervisor in self.supervisors {
            let _ = supervisor.await;
        }
    }
}

async fn supervise(
    mut child: Child,
    launch: Launch,
    port: u16,
    kill: bool,
    faults: Faults,
    deaths: Arc<Deaths>,
    stop: CancellationToken,
) {
    loop {
        let next_kill = Duration::from_millis(fastrand::u64(300..1_500));
        tokio::select! {
            // `Child::wait` is cancel-safe, so losing the race to a timer is harmless.
            status = child.wait() => {
                if let Ok(status) = status {
                    deaths.count_exit(status);
                } else {
                    deaths.other_exits.fetch_add(1, Ordering::Relaxed);
                }
            }
            () = tokio::time::sleep(next_kill), if kill => {
                if !faults.on() {
                    continue;
                }
                let _ = child.kill().await;
                deaths.kills.fetch_add(1, Ordering::Relaxed);
            }
            () = stop.cancelled() => {
                let _ = child.kill().await;
                return;
            }
        }
        // Started again on the same port; clients retry until it listens.
        loop {
            match spawn(&launch, port) {
                Ok(started) => {
                    child = started;
                    deaths.starts.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(error) => {
                    eprintln!("soak: restarting the server on port {port} failed: {error:#}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

const SIGABRT: i32 = 6;

fn spawn(launch: &Launch, port: u16) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(&launch.log_dir, port))
        .context("open the server log")?;
    let mut command = Command::new(&launch.server_bin);
    command
        .env("DATABASE_URL", &launch.database_url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    if let Some(points) = launch.fault_points {
        command.env("FAILPOINTS", points);
    }
    command
        .spawn()
        .with_context(|| format!("start {}", launch.server_bin.display()))
}

pub fn log_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("server-{port}.log"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts a process and waits until it answers `/healthz`. The first process on a new
/// store seeds it at startup, in a commit like any other, so in a crash scenario a fault
/// point may end it there (1% of starts at the scenarios' rates): it is then started
/// again, as its supervisor would later, a few times at most. Elsewhere an exit while
/// starting is an error.
async fn start_until_healthy(
    launch: &Launch,
    port: u16,
    crashes: bool,
    deaths: &Deaths,
) -> anyhow::Result<Child> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let mut child = spawn(launch, port)?;
        deaths.starts.fetch_add(1, Ordering::Relaxed);
        match wait_until_healthy(port, &mut child).await? {
            Started::Healthy => return Ok(child),
            Started::Exited(status) => {
                deaths.count_exit(status);
                anyhow::ensure!(
                    crashes,
                    "the server on port {port} ended while starting: {status}"
                );
                eprintln!("soak: the server on port {port} ended while starting ({status}): again");
            }
        }
    }
    anyhow::bail!("the server on port {port} ended while starting, {ATTEMPTS} times")
}

enum Started {
    Healthy,
    Exited(std::process::ExitStatus),
}

async fn wait_until_healthy(port: u16, child: &mut Child) -> anyhow::Result<Started> {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Some(status) = child.try_wait()? {
            return Ok(Started::Exited(status));
        }
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(Started::Healthy);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server on port {port} did not become healthy in 60 s")
}
