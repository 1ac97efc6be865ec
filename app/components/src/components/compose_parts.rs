//! What "Send message" needs only once it is clicked: the existence check's call and the
//! compose dialog, with the API client and the JSON code they carry (most of the
//! button's weight). With the feature `lazy-compose` they are a wasm-split split point:
//! the bundle's split step (`scripts/build-bundle --split`) moves their code into a
//! chunk of its own, which the page loads on idle after hydration, or at the first click
//! if that comes first. Without the feature they are in the bundle like any other code.

use super::ComposeModal;
use crate::api::{ApiClient, CallError};
use futures_util::future::Either;
use leptos::html;
use leptos::prelude::*;
use messaging_core::wire::{ContextType, Conversation};
use messaging_core::{AgencyId, ConversationId, IdempotencyKey};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

type Found = Pin<Box<dyn Future<Output = Result<Option<Conversation>, CallError>>>>;

/// The parts, as plain functions (a split chunk's code is reached through them).
#[derive(Clone, Copy)]
pub(super) struct ComposeParts {
    /// The "does a conversation already exist?" call.
    pub find_conversation: fn(ApiClient, ContextType, AgencyId, Duration) -> Found,
    /// The compose dialog.
    pub dialog: fn(DialogProps) -> AnyView,
}

/// What [`ComposeModal`] is given by the button.
pub(super) struct DialogProps {
    pub open: RwSignal<bool>,
    pub key: IdempotencyKey,
    pub context_type: ContextType,
    pub context_id: AgencyId,
    pub recipient: String,
    pub client: ApiClient,
    pub return_focus: NodeRef<html::Button>,
    pub on_sent: Callback<ConversationId>,
}

/// The parts' code did not arrive (a lost connection, say); the next call tries again.
#[derive(Debug)]
pub(super) struct Unavailable;

#[cfg(feature = "lazy-compose")]
impl From<leptos::wasm_split::SplitLoaderError> for Unavailable {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Self
    }
}

/// [`load`], giving up after `limit`: a request for the chunk that stalls must not hold
/// the button. The load goes on, for the next call to find.
pub(super) async fn load_within(limit: Duration) -> Result<ComposeParts, Unavailable> {
    let (expired, expiry) = futures_channel::oneshot::channel::<()>();
    let timer = set_timeout_with_handle(
        move || {
            let _ = expired.send(());
        },
        limit,
    )
    .ok();
    let loaded = std::pin::pin!(load());
    let outcome = match futures_util::future::select(loaded, expiry).await {
        Either::Left((parts, _)) => parts,
        Either::Right(_) => Err(Unavailable),
    };
    if let Some(timer) = timer {
        timer.clear();
    }
    outcome
}

/// The parts, their code loaded first when it is in a chunk (once: later calls find it).
pub(super) async fn load() -> Result<ComposeParts, Unavailable> {
    #[cfg(feature = "lazy-compose")]
    return compose_parts().await;
    #[cfg(not(feature = "lazy-compose"))]
    compose_parts()
}

#[cfg_attr(
    feature = "lazy-compose",
    leptos::wasm_split::wasm_split(
        compose_parts,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )
)]
fn compose_parts() -> Result<ComposeParts, Unavailable> {
    Ok(ComposeParts {
        find_conversation: |client, context_type, context_id, timeout| {
            Box::pin(async move {
                client
                    .find_conversation(context_type, *context_id.as_uuid(), timeout)
                    .await
            })
        },
        dialog: |props| {
            view! {
                <ComposeModal
                    open=props.open
                    idempotency_key=props.key
                    context_type=props.context_type
                    context_id=props.context_id
                    recipient=props.recipient
                    client=props.client
                    return_focus=props.return_focus
                    on_sent=props.on_sent
                />
            }
            .into_any()
        },
    })
}
