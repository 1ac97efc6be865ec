//! The axum server: the idempotent messaging API under `/api` and the server-rendered
//! Leptos pages, from one binary.

// Leptos' server-side view types nest deeply: rendering the pages' islands needs more
// than the default 128 levels of type layout.
#![recursion_limit = "256"]

pub mod auth;
pub mod cache;
pub mod config;
pub mod connections;
pub mod crash;
pub mod db;
pub mod error;
pub mod events;
pub mod expiry;
pub mod extract;
pub mod idempotency;
pub mod messaging;
pub mod metrics;
#[cfg(feature = "demo")]
pub mod page_data;
pub mod passwords;
pub mod request_limits;
pub mod routes;
pub mod security;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
