//! Settings from the environment, each with a default that needs no setup.

use crate::connections::ConnectionLimits;
use anyhow::Context;
use axum_client_ip::ClientIpSource;
use leptos::config::{Env, LeptosOptions};
use messaging_core::MAX_REQUEST_BODY_BYTES;
use std::net::SocketAddr;
use std::time::Duration;

/// The demo site's bundle name (`site::OUTPUT_NAME`), the default.
const DEMO_OUTPUT_NAME: &str = "messaging";

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A year: long enough for any retry, short enough that expiry times never overflow.
const MAX_KEY_RETENTION_SECS: u64 = 365 * 24 * 60 * 60;

#[derive(Clone, Debug)]
pub struct Config {
    /// `LEPTOS_SITE_ADDR`, default `127.0.0.1:3000`; port 0 picks a free port.
    pub site_addr: SocketAddr,
    /// `LEPTOS_SITE_ROOT`: where `scripts/build-site` put `pkg/`, default `target/site`.
    pub site_root: String,
    /// `LEPTOS_OUTPUT_NAME`: the bundle's name in `pkg/`, default the demo's (`messaging`).
    pub output_name: String,
    /// `DATABASE_URL`: `sqlite:...` or `postgres://...`; default a SQLite file in
    /// `DATA_DIR` (default `data/`).
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`: the store's connections per process, when not the
    /// default (`db::Db::connect`). Several processes on one PostgreSQL share its
    /// `max_connections` (100 by default).
    pub database_pool_size: Option<u32>,
    /// `IDEMPOTENCY_KEY_RETENTION_SECS`, default 24 h.
    pub key_retention: Duration,
    /// `SEED_DEMO_DATA=false` turns seeding off; it is always off in production.
    pub seed_demo_data: bool,
    /// `LEPTOS_ENV=PROD`: production mode (secure cookies, HSTS, no demo data).
    pub production: bool,
    /// `HEADER_READ_TIMEOUT_SECS` (5), `IDLE_TIMEOUT_SECS` (60), `MAX_CONNECTIONS`
    /// (10,000, and never more than the open-file limit allows).
    pub connection_limits: ConnectionLimits,
    /// `CLIENT_IP_SOURCE`: where the client's address comes from, `ConnectInfo` (the
    /// socket's peer, the default) or, behind a proxy that sets it, the header it sets:
    /// `RightmostXForwardedFor`, `XRealIp`, `CfConnectingIp`, `FlyClientIp`, … (the
    /// variants of `axum_client_ip::ClientIpSource`).
    pub client_ip_source: ClientIpSource,
    /// `REQUEST_TIMEOUT_SECS` (30): how long a request, body included, may take to arrive
    /// and be answered (a live stream's answer begins at once and is not cut); at
    /// shutdown, the requests in flight get as long, and a margin.
    pub request_timeout: Duration,
    /// `MAX_BODY_MEMORY_BYTES` (32 MiB, at least the 64 KiB of one body): what the
    /// bodies being read may take in all (`request_limits`).
    pub max_body_memory: usize,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let site_addr = env_or("LEPTOS_SITE_ADDR", "127.0.0.1:3000")
            .parse()
            .context("LEPTOS_SITE_ADDR must be an address such as 127.0.0.1:3000")?;
        let production = env_or("LEPTOS_ENV", "DEV").eq_ignore_ascii_case("PROD");
        let data_dir = env_or("DATA_DIR", "data");
        let request_timeout = env_secs("REQUEST_TIMEOUT_SECS", DEFAULT_REQUEST_TIMEOUT)?;
        let key_retention = match std::env::var("IDEMPOTENCY_KEY_RETENTION_SECS") {
            Ok(secs) => {
                let secs: u64 = secs
                    .parse()
                    .context("IDEMPOTENCY_KEY_RETENTION_SECS must be seconds")?;
                anyhow::ensure!(
                    (1..=MAX_KEY_RETENTION_SECS).contains(&secs),
                    "IDEMPOTENCY_KEY_RETENTION_SECS must be between 1 and {MAX_KEY_RETENTION_SECS} (a year)"
                );
                Duration::from_secs(secs)
            }
            Err(_) => messaging_core::DEFAULT_KEY_RETENTION,
        };
        Ok(Self {
            site_addr,
            site_root: env_or("LEPTOS_SITE_ROOT", "target/site"),
            output_name: env_or("LEPTOS_OUTPUT_NAME", DEMO_OUTPUT_NAME),
            database_url: env_or(
                "DATABASE_URL",
                &format!("sqlite://{data_dir}/messaging.db?mode=rwc"),
            ),
            database_pool_size: database_pool_size()?,
            key_retention,
            seed_demo_data: !production && env_or("SEED_DEMO_DATA", "true") != "false",
            production,
            connection_limits: connection_limits()?,
            client_ip_source: env_or("CLIENT_IP_SOURCE", "ConnectInfo")
                .parse()
                .context("CLIENT_IP_SOURCE must name a source, such as ConnectInfo or RightmostXForwardedFor")?,
            request_timeout,
            max_body_memory: max_body_memory()?,
        })
    }

    /// Leptos's own settings, derived from ours so the two cannot disagree.
    pub fn leptos_options(&self, bound_addr: SocketAddr) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.output_name.as_str())
            .site_root(self.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(bound_addr)
            .env(if self.production { Env::PROD } else { Env::DEV })
            .build()
    }
}

fn connection_limits() -> anyhow::Result<ConnectionLimits> {
    let defaults = ConnectionLimits::default();
    Ok(ConnectionLimits {
        header_read: env_secs("HEADER_READ_TIMEOUT_SECS", defaults.header_read)?,
        idle: env_secs("IDLE_TIMEOUT_SECS", defaults.idle)?,
        max_connections: match std::env::var("MAX_CONNECTIONS") {
            Ok(value) => value
                .parse()
                .ok()
                .filter(|&max| max > 0)
                .context("MAX_CONNECTIONS must be a positive number")?,
            Err(_) => defaults.max_connections,
        },
        ..defaults
    })
}

/// What the bodies being read may take, in all, by default: 512 bodies of the largest
/// size, or some 100,000 chat messages. Each body is bounded (64 KiB); this bounds them
/// all, which `MAX_CONNECTIONS` and HTTP/2's streams per connection would multiply.
const DEFAULT_BODY_MEMORY: usize = 512 * MAX_REQUEST_BODY_BYTES;

/// A terabyte: more than any server has, less than a semaphore can count.
const MAX_BODY_MEMORY: usize = 1 << 40;

fn max_body_memory() -> anyhow::Result<usize> {
    let Ok(value) = std::env::var("MAX_BODY_MEMORY_BYTES") else {
        return Ok(DEFAULT_BODY_MEMORY);
    };
    value
        .parse()
        .ok()
        .filter(|bytes| (MAX_REQUEST_BODY_BYTES..=MAX_BODY_MEMORY).contains(bytes))
        .with_context(|| {
            format!(
                "MAX_BODY_MEMORY_BYTES must be a number of bytes from {MAX_REQUEST_BODY_BYTES} to {MAX_BODY_MEMORY}"
            )
        })
}

/// A sanity bound: each connection is a PostgreSQL backend process.
const MAX_POOL_SIZE: u32 = 1_000;

fn database_pool_size() -> anyhow::Result<Option<u32>> {
    let Ok(value) = std::env::var("DATABASE_POOL_SIZE") else {
        return Ok(None);
    };
    let size = value
        .parse()
        .ok()
        .filter(|size| (1..=MAX_POOL_SIZE).contains(size))
        .with_context(|| {
            format!("DATABASE_POOL_SIZE must be a number from 1 to {MAX_POOL_SIZE}")
        })?;
    Ok(Some(size))
}

/// A duration in whole seconds, at least one.
fn env_secs(name: &str, default: Duration) -> anyhow::Result<Duration> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .ok()
            .filter(|&secs| secs > 0)
            .map(Duration::from_secs)
            .with_context(|| format!("{name} must be a positive number of seconds")),
        Err(_) => Ok(default),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::*;

    #[test]
    fn the_default_bundle_is_the_demo_sites() {
        assert_eq!(DEMO_OUTPUT_NAME, site::OUTPUT_NAME);
    }
}
