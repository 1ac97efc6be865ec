//! What every handler may reach: the use cases' parts (`messaging::Messaging`: the store,
//! its caches, the live events, the keys), the configuration and the process's limits.
//! Extractors and middleware clone it per request, so it is one `Arc`.

use crate::cache::Caches;
use crate::config::Config;
use crate::db::{Backend, Db, seed};
use crate::events::Hub;
use crate::idempotency::Idempotency;
use crate::messaging::Messaging;
use crate::metrics;
use crate::passwords::PasswordChecks;
use crate::throttle::SignInThrottle;
use anyhow::Context;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Arc<Config>,
    /// The use cases' parts: the store, its caches, the live events, the keys.
    pub messaging: Messaging,
    /// The bytes that the bodies being read may still take (`request_limits`).
    pub body_memory: Arc<Semaphore>,
    pub sign_in_throttle: SignInThrottle,
    pub password_checks: PasswordChecks,
    pub leptos_options: LeptosOptions,
}

impl AppState {
    /// Connects to the store (migrating it, and seeding it when asked).
    pub async fn new(config: Config, bound_addr: SocketAddr) -> anyhow::Result<Self> {
        // Install the metrics recorder before the first request can record anything.
        metrics::handle();
        let db = Db::connect(&config.database_url, config.database_pool_size).await?;
        if config.seed_demo_data {
            seed::seed_if_empty(&db)
                .await
                .context("Failed to seed the demo data")?;
        }
        let hub = match db.backend() {
            Backend::Sqlite => Hub::local(),
            Backend::Postgres => Hub::following_postgres(db.clone(), config.database_url.clone())
                .await
                .context("Failed to listen for new messages on PostgreSQL")?,
        };
        let caches = Caches::default();
        caches.forget_ended_sessions(hub.subscribe());
        Ok(Self(Arc::new(Shared {
            leptos_options: config.leptos_options(bound_addr),
            messaging: Messaging::new(db, caches, hub, Idempotency::new(config.key_retention)),
            body_memory: Arc::new(Semaphore::new(config.max_body_memory)),
            config: Arc::new(config),
            sign_in_throttle: SignInThrottle::default(),
            password_checks: PasswordChecks::default(),
        })))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
