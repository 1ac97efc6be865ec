//! Where a message is written.

use crate::api::DeviceHints;
use crate::labels::use_labels;
use crate::outbox::{Outbox, Pending};
use leptos::html;
use leptos::prelude::*;
use messaging_core::{ConversationId, LocalId, MessageText};

/// The composer's text and its field, where a message taken back goes.
#[derive(Clone, Copy)]
pub(super) struct ComposerField {
    pub(super) text: RwSignal<String>,
    pub(super) field: NodeRef<html::Textarea>,
}

impl ComposerField {
    /// Puts a message taken back into the composer, below a draft already there.
    pub(super) fn take_in(self, text: String) {
        self.text.update(|draft| {
            *draft = if draft.trim().is_empty() {
                text
            } else {
                format!("{draft}\n{text}")
            };
        });
    }
}

/// Writes a message. With JavaScript it goes to the outbox (shown at once, sent in the
/// background); without, the form posts to `form_action` with its server-rendered
/// local_id.
#[component]
pub(super) fn Composer(
    conversation_id: ConversationId,
    form_local_id: LocalId,
    composer: ComposerField,
    form_action: Option<String>,
    outbox: Outbox,
) -> impl IntoView {
    let text = composer.text;
    let labels = use_labels();
    let touched = RwSignal::new(false);
    // The next message's local_id; a new one once a message is in the outbox.
    let local_id = RwSignal::new(form_local_id);
    let problem = {
        let labels = labels.clone();
        move || {
            MessageText::parse(&text.get())
                .err()
                .map(|e| labels.text_problem(&e))
        }
    };
    let shown_problem = {
        let problem = problem.clone();
        move || touched.get().then(&problem).flatten()
    };

    let send = move || {
        touched.set(true);
        let Ok(message) = MessageText::parse(&text.get_untracked()) else {
            return;
        };
        outbox.push(Pending::new(
            conversation_id,
            local_id.get_untracked(),
            message.to_string(),
            DeviceHints::of_this_browser(),
        ));
        local_id.set(LocalId::generate());
        text.set(String::new());
        touched.set(false);
    };
    // Posted only without JavaScript, so only where a form action was given.
    let no_script_fields = form_action.is_some().then(|| {
        view! {
            <input type="hidden" name="conversation_id" value=conversation_id.to_string() />
            <input type="hidden" name="local_id" value=move || local_id.get().to_string() />
        }
    });

    view! {
        <form
            class="composer"
            method=form_action.as_ref().map(|_| "post")
            action=form_action
            on:submit=move |event| {
                event.prevent_default();
                send();
            }
        >
            {no_script_fields}
            <label class="field composer__field">
                <span class="visually-hidden">{labels.your_message.to_string()}</span>
                <textarea
                    node_ref=composer.field
                    name="text"
                    rows="2"
                    required
                    placeholder=labels.write_a_message.to_string()
                    aria-invalid=move || (touched.get() && problem().is_some()).to_string()
                    aria-describedby="composer-error"
                    prop:value=move || text.get()
                    on:input=move |event| text.set(event_target_value(&event))
                    on:keydown=move |event| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            send();
                        }
                    }
                >
                    {text.get_untracked()}
                </textarea>
            </label>
            <button type="submit" class="button primary">
                {labels.send.to_string()}
            </button>
            <p id="composer-error" class="field__error composer__error" role="alert">
                {shown_problem}
            </p>
        </form>
    }
}
