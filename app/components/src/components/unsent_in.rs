use crate::labels::use_labels;
use crate::outbox;
use leptos::prelude::*;
use messaging_core::{ConversationId, UserId};

/// The messages `user` wrote in `conversation` and has not sent, for the page shown in
/// its place when it cannot be opened (it is gone, or `user` no longer takes part): each
/// with its text, to copy, and Discard. They can never be sent, and the header's
/// [`UnsentMessages`] leads here; without this, only signing out would clear them.
/// Nothing while there are none, and nothing on the server.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::UnsentIn;
/// use messaging_core::{ConversationId, UserId};
///
/// #[component]
/// fn ConversationNotFound(user: UserId, conversation: ConversationId) -> impl IntoView {
///     view! {
///         <h1>"Conversation not found"</h1>
///         <UnsentIn user conversation />
///     }
/// }
/// ```
#[component]
pub fn UnsentIn(
    /// Whose outbox.
    user: UserId,
    /// The conversation that cannot be opened.
    conversation: ConversationId,
) -> impl IntoView {
    let unsent = RwSignal::new(Vec::new());
    // Storage exists only in the browser; effects run only there.
    Effect::new(move |_| {
        let list = move || {
            unsent.try_set(outbox::unsent(user));
        };
        list();
        outbox::watch(user, list);
    });
    let labels = use_labels();
    move || {
        let discard = labels.discard.to_string();
        let rows: Vec<_> = unsent.with(|unsent| {
            let here = unsent
                .iter()
                .filter(|pending| pending.conversation_id == conversation);
            here.map(|pending| {
                let local_id = pending.local_id.clone();
                view! {
                    <li class="message own">
                        <p class="message__text">{pending.text.clone()}</p>
                        <button
                            type="button"
                            class="button link"
                            on:click=move |_| outbox::discard(user, &local_id)
                        >
                            {discard.clone()}
                        </button>
                    </li>
                }
            })
            .collect()
        });
        (!rows.is_empty()).then(|| {
            view! {
                <section class="unsent-in">
                    <p>{labels.cannot_be_sent.to_string()}</p>
                    <ol class="messages">{rows}</ol>
                </section>
            }
        })
    }
}
