//! The components as Leptos islands, for apps built with islands: each wraps a component
//! with props the server can write into the page (an island's props travel as JSON),
//! while the components keep their richer props (callbacks, timeouts) for apps that
//! mount them directly.
//!
//! An island is a wasm export, which the linker keeps whether a page shows it or not, so
//! each has a feature: with `send-message-island` off, [`SendMessageIsland`] is a plain
//! component that no bundle exports (likewise `conversation-island`). A server build
//! turns on both (`islands`), so every page is rendered with its islands; a browser
//! bundle made for some pages turns on only the islands those pages show, and carries
//! none of the others' code.
#![cfg_attr(
    any(feature = "send-message-island", feature = "conversation-island"),
    expect(
        missing_docs,
        reason = "#[island] generates a struct of its own that takes no doc comment"
    )
)]

use crate::{ConversationView, Labels, SendMessageButton, UnsentIn, provide_labels};
use leptos::prelude::*;
use messaging_core::wire::{Conversation, CurrentUser, Message, StreamClosed};
use messaging_core::{AgencyId, ConversationId, LocalId, UserId};

/// [`SendMessageButton`] on a server-rendered page; `fallback_href` is where the button
/// leads without JavaScript.
#[cfg_attr(feature = "send-message-island", island)]
#[cfg_attr(not(feature = "send-message-island"), component)]
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
#[cfg_attr(feature = "conversation-island", island)]
#[cfg_attr(not(feature = "conversation-island"), component)]
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

/// [`UnsentIn`] on the page a conversation's address shows when it cannot be opened
/// (with [`ConversationIsland`]'s feature: the same pages' bundle).
#[cfg_attr(feature = "conversation-island", island)]
#[cfg_attr(not(feature = "conversation-island"), component)]
pub fn UnsentInIsland(
    /// Whose outbox.
    user: UserId,
    /// The conversation that cannot be opened.
    conversation: ConversationId,
    /// The texts, when not the English defaults.
    #[prop(optional)]
    labels: Option<Labels>,
) -> impl IntoView {
    if let Some(labels) = labels {
        provide_labels(labels);
    }
    view! { <UnsentIn user conversation /> }
}
