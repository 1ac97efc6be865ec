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
