//! The API client's calls against a stubbed `fetch`: their timeout covers the whole answer.
use crate::support::stub_fetch;
use messaging_components::api::ApiClient;
use messaging_core::retry::Failure;
use messaging_core::wire::ChatRequest;
use messaging_core::{ConversationId, LocalId};
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;

/// Headers in, then nothing (a connection lost after them): the call times out instead
/// of waiting for the body for ever (the outbox would hold its sending turn meanwhile).
#[wasm_bindgen_test]
async fn an_answer_whose_body_stalls_times_out() {
    stub_fetch(
        "const stalled = new ReadableStream({ start(controller) {
           req.signal.addEventListener('abort',
             () => controller.error(new DOMException('aborted', 'AbortError')));
         } });
         return new Response(stalled, { status: 202, headers: { 'content-type': 'application/json' } });",
    );
    let request = ChatRequest {
        conversation_id: ConversationId::new_random(),
        text: "Hello".into(),
        local_id: LocalId::generate().to_string(),
        user_agent: None,
        max_touch_points: None,
    };
    let answer = ApiClient::new("")
        .send_chat(&request, Duration::from_millis(300))
        .await;
    let error = answer.expect_err("a failure");
    assert_eq!(error.failure, Failure::Timeout);
}
