//! The axum server: the idempotent messaging API under `/api` and the server-rendered
//! Leptos pages, from one binary.

pub mod config;
pub mod startup;
pub mod telemetry;
