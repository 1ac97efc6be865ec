//! Component tests in headless Chromium (wasm-bindgen-test with `run_in_browser`).
//! Run by `scripts/test` as `cargo test -p messaging-components --target wasm32-unknown-unknown --features csr`.
#![cfg(target_arch = "wasm32")]

mod api;
mod conversation_view;
mod send_message_button;
mod support;
mod timestamp;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
