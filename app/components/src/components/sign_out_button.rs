use crate::labels::{fill, use_labels};
use crate::outbox;
use leptos::prelude::*;
use messaging_core::UserId;

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
