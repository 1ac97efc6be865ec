//! Black-box tests against a spawned server, each on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod bad_input;
mod batches;
mod chat;
mod concurrency;
mod conversations;
mod history;
mod hostile_clients;
mod lifecycle;
mod live_access;
mod scale_out;
mod sequence;
mod sign_in_throttle;
