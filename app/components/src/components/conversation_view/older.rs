//! Older messages, loaded in place above the first one shown.

use crate::api::{ApiClient, DEFAULT_TIMEOUT};
use crate::labels::use_labels;
use crate::timeline;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::ConversationId;
use messaging_core::wire::{Message, MessageCursor};

/// Loads the page of messages before the first one shown, in place (the scroller keeps
/// the reading position: it is laid out from its end). One load at a time.
#[derive(Clone, Copy)]
pub(super) struct LoadOlder {
    client: StoredValue<ApiClient>,
    conversation: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    scroller: NodeRef<html::Div>,
    loading: StoredValue<bool>,
}

impl LoadOlder {
    /// Loads into `confirmed`, keeping the reading position in `scroller`.
    pub(super) fn new(
        client: StoredValue<ApiClient>,
        conversation: ConversationId,
        confirmed: RwSignal<Vec<Message>>,
        scroller: NodeRef<html::Div>,
    ) -> Self {
        Self {
            client,
            conversation,
            confirmed,
            scroller,
            loading: StoredValue::new(false),
        }
    }

    /// The `seq` of the first message shown, when older ones exist.
    fn before(self) -> Option<u64> {
        self.confirmed
            .with(|list| list.first().map(|message| message.seq))
            .filter(|seq| *seq > 1)
    }

    fn run(self) {
        let (Some(before), Some(client)) = (
            self.confirmed
                .with_untracked(|list| list.first().map(|message| message.seq))
                .filter(|seq| *seq > 1),
            self.client.try_get_value(),
        ) else {
            return;
        };
        if self
            .loading
            .try_update_value(|loading| std::mem::replace(loading, true))
            != Some(false)
        {
            return;
        }
        spawn_local(async move {
            let page = client
                .older_messages(
                    self.conversation,
                    MessageCursor { seq: before },
                    DEFAULT_TIMEOUT,
                )
                .await;
            self.loading.try_set_value(false);
            if let Ok(page) = page {
                self.confirmed.update(|shown| {
                    for message in page.items {
                        timeline::merge_confirmed(shown, self.conversation, message);
                    }
                });
            } // Else the link stays; another click or scroll tries again.
        });
    }

    /// As the person scrolls the list to its top, the older messages come by themselves.
    pub(super) fn near_the_top(self) {
        // Laid out from its end, the scroller's `scrollTop` is 0 at the end and negative
        // above it: the distance to the top is what is left of the scrollable height.
        let to_the_top = |scroller: &web_sys::HtmlDivElement| {
            scroller.scroll_height() - scroller.client_height() + scroller.scroll_top()
        };
        if self
            .scroller
            .get_untracked()
            .is_some_and(|scroller| to_the_top(&scroller) < 48)
        {
            self.run();
        }
    }
}

/// "Older messages", above the first shown message while there are older ones: a link to
/// `older_href` (the page of older messages) or, with no such page, a button; once
/// hydrated, either loads them in place (as does scrolling the list to its top).
#[component]
pub(super) fn OlderMessages(older: LoadOlder, older_href: Option<String>) -> impl IntoView {
    let load = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        older.run();
    };
    let labels = use_labels();
    move || {
        let before = older.before()?;
        let text = labels.older_messages.to_string();
        Some(match &older_href {
            Some(href) => {
                let href = href.replace("{before}", &before.to_string());
                view! {
                    <a class="conversation__older" href=href on:click=load>
                        {text}
                    </a>
                }
                .into_any()
            }
            None => view! {
                <button class="conversation__older" type="button" on:click=load>
                    {text}
                </button>
            }
            .into_any(),
        })
    }
}
