//! Every text parser in `core` on arbitrary input: none may panic, and what one accepts
//! must survive its own round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use messaging_core::device::DisplayData;
use messaging_core::retry::parse_retry_after;
use messaging_core::wire::{ContextType, MessageCursor};
use messaging_core::{DeviceKind, IdempotencyKey, LocalId, MessageText};

fuzz_target!(|input: &str| {
    if let Ok(key) = IdempotencyKey::parse(input) {
        assert_eq!(key.as_str(), input);
        // The quoted header form always reads back as the same key.
        assert_eq!(
            IdempotencyKey::parse_header(&key.to_sf_string()).ok(),
            Some(key)
        );
    }
    let _ = IdempotencyKey::parse_header(input);

    if let Ok(local_id) = LocalId::parse(input) {
        assert_eq!(local_id.as_str(), input);
    }
    if let Ok(text) = MessageText::parse(input) {
        assert_eq!(text.as_str(), input);
        assert!(text.as_str().chars().count() <= MessageText::MAX_CHARS);
    }
    if let Some(cursor) = MessageCursor::parse(input) {
        assert_eq!(MessageCursor::parse(&cursor.to_string()), Some(cursor));
    }
    if let Some(kind) = DeviceKind::parse(input) {
        assert_eq!(kind.as_str(), input);
    }
    if let Some(context) = ContextType::parse(input) {
        assert_eq!(context.as_str(), input);
    }
    let display = DisplayData::from_user_agent(Some(input));
    if let Some(kept) = &display.user_agent {
        assert!(kept.chars().count() <= DisplayData::MAX_USER_AGENT_CHARS);
        assert!(!kept.chars().any(char::is_control));
    }
    let _ = parse_retry_after(input);
});
