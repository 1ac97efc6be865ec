//! The components as Leptos islands, for apps built with islands (feature `islands`):
//! each wraps a component with props the server can write into the page (an island's
//! props travel as JSON), while the components keep their richer props (callbacks,
//! timeouts) for apps that mount them directly. Each island is a wasm export, kept in
//! the bundle whether a page uses it or not, hence the feature.
#![expect(
    missing_docs,
    reason = "#[island] generates a struct of its own that takes no doc comment"
)]

use crate::{ConversationView, Labels, SendMessageButton, provide_labels};
use leptos::prelude::*;
use messaging_core::wire::{Conversation, CurrentUser, Message, StreamClosed};
use messaging_core::{AgencyId, LocalId};

/// [`SendMessageButton`] on a server-rendered page; `fallback_href` is where the button
/// leads without JavaScript.
#[island]
pub fn SendMessageIsland(
    /// The agency to contact.
    context_id: AgencyId,
    /// Shown in the dialog's title.
    recipient: String,
    /// Where the button leads without JavaScript.
    fallback_href: String,
    /// The texts, when not the English defaults (an island sees no context from the page).
    #[prop(optional)]
    labels: Option<Labels>,
) -> impl IntoView {
    if let Some(labels) = labels {
        provide_labels(labels);
    }
    view! { <SendMessageButton context_id recipient fallback_href /> }
}

/// [`ConversationView`] on a server-rendered page, its composer posting to
/// `form_action` without JavaScript.
#[island]
pub fn ConversationIsland(
    /// The conversation shown.
    conversation: Conversation,
    /// The messages the page was rendered with, oldest first.
    messages: Vec<Message>,
    /// Who is reading.
    reader: CurrentUser,
    /// The composer's first `local_id`, for the form without JavaScript.
    form_local_id: LocalId,
    /// Text the composer starts with.
    form_text: String,
    /// Where the composer posts without JavaScript.
    form_action: String,
    /// Where to go when the server says the session ended (the app's sign-in page);
    /// without it the view only says so.
    #[prop(optional)]
    sign_in_href: Option<String>,
    /// The page of older messages without JavaScript (see [`ConversationView`]).
    #[prop(optional)]
    older_href: Option<String>,
    /// The texts, when not the English defaults.
    #[prop(optional)]
    labels: Option<Labels>,
) -> impl IntoView {
    if let Some(labels) = labels {
        provide_labels(labels);
    }
    let on_stream_closed = Callback::new(move |reason| {
        if let (StreamClosed::SignedOut, Some(href)) = (reason, &sign_in_href) {
            let _ = window().location().set_href(href);
        }
    });
    view! {
        <ConversationView
            conversation
            messages
            reader
            form_local_id
            form_text
            form_action
            on_stream_closed
            older_href
        />
    }
}
