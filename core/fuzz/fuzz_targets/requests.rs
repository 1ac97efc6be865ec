//! Arbitrary bytes as each request body the API accepts, then through the validation
//! that turns a body into an intent: nothing may panic, and every accepted intent obeys
//! the rules it was checked against.

#![no_main]

use libfuzzer_sys::fuzz_target;
use messaging_core::fingerprint::Fingerprinted;
use messaging_core::wire::{ChatRequest, CreateConversationRequest, SignInRequest};
use messaging_core::{MessageText, NewChatMessage, NewConversation};

fuzz_target!(|body: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<CreateConversationRequest>(body)
        && let Ok(intent) = NewConversation::try_from(request)
    {
        assert!(MessageText::parse(intent.initial_message.text.as_str()).is_ok());
        let _ = intent.fingerprint();
    }
    if let Ok(request) = serde_json::from_slice::<ChatRequest>(body)
        && let Ok(intent) = NewChatMessage::try_from(request)
    {
        assert!(MessageText::parse(intent.message.text.as_str()).is_ok());
    }
    let _ = serde_json::from_slice::<SignInRequest>(body);
});
