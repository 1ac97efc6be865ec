//! The interactive parts of the server-rendered pages, and the only UI code shipped to
//! the browser (Leptos islands): everything else on a page is HTML the server renders,
//! so the bundle carries no router, no pages and no page data loading.
//!
//! Each island wraps a reusable component with props the server can write into the page
//! (an island's props travel as JSON), so the components themselves keep their richer
//! props (callbacks, timeouts) for apps that mount them directly.

use crate::components::{ConversationView, KeyMaker, SendMessageButton};
use leptos::prelude::*;
use messaging_core::wire::{Conversation, CurrentUser, Message};
use messaging_core::{AgencyId, LocalId};

/// "Send message" on an agency's page.
#[island]
pub fn SendMessageIsland(
    context_id: AgencyId,
    recipient: String,
    fallback_href: String,
) -> impl IntoView {
    view! { <SendMessageButton context_id recipient fallback_href /> }
}

/// A conversation with its live messages, outbox and composer.
#[island]
pub fn ConversationIsland(
    conversation: Conversation,
    messages: Vec<Message>,
    reader: CurrentUser,
    form_local_id: LocalId,
    form_text: String,
) -> impl IntoView {
    view! { <ConversationView conversation messages reader form_local_id form_text /> }
}

/// The home page's key maker.
#[island]
pub fn KeyMakerIsland() -> impl IntoView {
    view! { <KeyMaker /> }
}
