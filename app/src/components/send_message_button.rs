use super::ComposeModal;
use crate::api::ApiClient;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::wire::ContextType;
use messaging_core::{AgencyId, ConversationId, IdempotencyKey};
use std::time::Duration;

/// The existence check gives up after this long and the compose modal opens anyway.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// "Send message" for a context (an agency). Makes its [`IdempotencyKey`] when it mounts
/// and keeps it for every retry of this intent. On click it asks whether a conversation
/// exists (giving up after `check_timeout`): if so it opens it; if not, or if the check
/// failed or timed out, it opens the compose modal, whose send is idempotent anyway.
#[component]
pub fn SendMessageButton(
    /// The agency to contact.
    #[prop(into)]
    context_id: AgencyId,
    /// Shown in the modal's title: "Message {recipient}".
    #[prop(into)]
    recipient: String,
    #[prop(optional)] context_type: Option<ContextType>,
    /// How long the existence check may take (default 10 s).
    #[prop(optional)]
    check_timeout: Option<Duration>,
    /// Where the API lives; empty for the same origin.
    #[prop(optional, into)]
    api_base: String,
    /// Opens a conversation; by default the browser goes to `/conversations/{id}`.
    #[prop(optional, into)]
    on_open: Option<Callback<ConversationId>>,
    /// A page with a plain compose form (a server-rendered key), where the button leads
    /// while JavaScript is off or not loaded yet.
    #[prop(optional, into)]
    fallback_href: Option<String>,
) -> impl IntoView {
    let context_type = context_type.unwrap_or(ContextType::AgencyInquiry);
    let check_timeout = check_timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT);
    let client = ApiClient::new(api_base);
    let key = StoredValue::new(IdempotencyKey::generate());
    let checking = RwSignal::new(false);
    let modal_open = RwSignal::new(false);
    let button_ref = NodeRef::<html::Button>::new();
    let open = on_open.unwrap_or_else(|| Callback::new(go_to_conversation));

    let on_click = {
        let client = client.clone();
        move |event: leptos::ev::MouseEvent| {
            // The script handles it: the fallback form is not followed.
            event.prevent_default();
            // A second click while the check runs (or the modal is open) does nothing.
            if checking.get_untracked() || modal_open.get_untracked() {
                return;
            }
            checking.set(true);
            let client = client.clone();
            spawn_local(async move {
                let found = client
                    .find_conversation(context_type, *context_id.as_uuid(), check_timeout)
                    .await;
                checking.set(false);
                match found {
                    Ok(Some(conversation)) => open.run(conversation.id),
                    // None, an error or a timeout: let the person write anyway.
                    Ok(None) | Err(_) => modal_open.set(true),
                }
            });
        }
    };

    // Inside the fallback form it submits (without script); otherwise it is a plain button.
    let button_type = if fallback_href.is_some() {
        "submit"
    } else {
        "button"
    };
    let button = view! {
        <button
            type=button_type
            class="button primary send-message-button"
            node_ref=button_ref
            aria-haspopup="dialog"
            aria-busy=move || checking.get().to_string()
            on:click=on_click
        >
            {move || if checking.get() { "Checking…" } else { "Send message" }}
        </button>
    };
    let button = match fallback_href {
        Some(href) => view! {
            <form class="send-message-form" method="get" action=href>
                {button}
            </form>
        }
        .into_any(),
        None => button.into_any(),
    };
    view! {
        {button}
        <ComposeModal
            open=modal_open
            idempotency_key=key
            context_type
            context_id
            recipient
            client
            return_focus=button_ref
            on_sent=open
        />
    }
}

fn go_to_conversation(id: ConversationId) {
    let _ = window()
        .location()
        .set_href(&format!("/conversations/{id}"));
}
