use crate::labels::{fill, use_labels};
use crate::outbox;
use leptos::prelude::*;
use messaging_core::{ConversationId, UserId};

/// How many messages `user` wrote that are not sent yet, as a link to where the oldest
/// one waits (`{conversation}` in `href` stands for its conversation's id); nothing while
/// there are none, and nothing on the server (the outbox lives in the browser). Kept up
/// to date as this tab or another sends or writes.
///
/// The outbox sends from the pages that show a [`ConversationView`](crate::ConversationView),
/// so the link leads to one. Made for a page's header, beside [`SignOutButton`].
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::UnsentMessages;
/// use messaging_core::UserId;
///
/// #[component]
/// fn Header(user: UserId) -> impl IntoView {
///     view! { <UnsentMessages user href="/conversations/{conversation}" /> }
/// }
/// ```
#[component]
pub fn UnsentMessages(
    /// Whose outbox.
    user: UserId,
    /// Where the oldest unsent message's conversation is shown.
    #[prop(into)]
    href: String,
) -> impl IntoView {
    let waiting = RwSignal::new(None::<(usize, ConversationId)>);
    // Storage exists only in the browser; effects run only there.
    Effect::new(move |_| {
        let count = move || {
            waiting.try_set(outbox::waiting(user));
        };
        count();
        outbox::watch(user, count);
    });
    let labels = use_labels();
    move || {
        let (count, conversation) = waiting.get()?;
        let text = if count == 1 {
            labels.unsent_one.to_string()
        } else {
            fill(&labels.unsent_many, &[("count", &count.to_string())])
        };
        let href = href.replace("{conversation}", &conversation.to_string());
        Some(view! {
            <a class="unsent-messages" href=href>
                {text}
            </a>
        })
    }
}

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

/// A sign-out form's submit button that asks first when `user` has messages not sent
/// yet; signing out then discards them (a shared computer keeps nothing of theirs), and a
/// person who says no stays signed in. Without JavaScript it is a plain submit button
/// (and there is no outbox).
#[component]
pub fn SignOutButton(
    /// Whose outbox.
    user: UserId,
    /// The button's classes.
    #[prop(optional, into)]
    class: String,
) -> impl IntoView {
    let labels = use_labels();
    let question = labels.sign_out_with_unsent.to_string();
    let ask_first = move |event: leptos::ev::MouseEvent| {
        let count = outbox::waiting(user).map_or(0, |(count, _)| count);
        if count == 0 {
            return;
        }
        let question = fill(&question, &[("count", &count.to_string())]);
        if window().confirm_with_message(&question).unwrap_or(false) {
            outbox::discard_all(user);
        } else {
            event.prevent_default();
        }
    };
    view! {
        <button type="submit" class=class on:click=ask_first>
            {labels.sign_out.to_string()}
        </button>
    }
}
