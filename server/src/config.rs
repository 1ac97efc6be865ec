//! Settings from the environment, each with a default that needs no setup.

use anyhow::Context;
use leptos::config::{Env, LeptosOptions};
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct Config {
    /// `LEPTOS_SITE_ADDR`, default `127.0.0.1:3000`; port 0 picks a free port.
    pub site_addr: SocketAddr,
    /// `LEPTOS_SITE_ROOT`: where `scripts/build-site` put `pkg/`, default `target/site`.
    pub site_root: String,
    /// `LEPTOS_ENV=PROD` turns on production mode.
    pub production: bool,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let site_addr = env_or("LEPTOS_SITE_ADDR", "127.0.0.1:3000")
            .parse()
            .context("LEPTOS_SITE_ADDR must be an address such as 127.0.0.1:3000")?;
        Ok(Self {
            site_addr,
            site_root: env_or("LEPTOS_SITE_ROOT", "target/site"),
            production: env_or("LEPTOS_ENV", "DEV").eq_ignore_ascii_case("PROD"),
        })
    }

    /// Leptos's own settings, derived from ours so the two cannot disagree.
    pub fn leptos_options(&self, bound_addr: SocketAddr) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(app::OUTPUT_NAME)
            .site_root(self.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(bound_addr)
            .env(if self.production { Env::PROD } else { Env::DEV })
            .build()
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
