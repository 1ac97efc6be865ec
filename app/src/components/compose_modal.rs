use crate::api::{ApiClient, CallError, DEFAULT_TIMEOUT};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::retry::Backoff;
use messaging_core::wire::{ContextType, CreateConversationRequest, InitialMessage};
use messaging_core::{AgencyId, ConversationId, DedupReason, IdempotencyKey, LocalId, MessageText};

/// What the modal is doing.
#[derive(Clone, Debug, PartialEq)]
enum SendState {
    Editing,
    Sending,
    Failed(String),
    /// The conversation existed already; the person is told before going there.
    AlreadyContacted(ConversationId),
}

/// The compose dialog: a real `<dialog>` opened with `showModal()` (focus moves in, the
/// page behind is inert, Escape closes), labelled by its title; focus returns to
/// `return_focus` when it closes. The message's `local_id` is made once and, with the
/// button's key, reused by every retry, so a retry can never store a second copy.
#[component]
pub fn ComposeModal(
    open: RwSignal<bool>,
    idempotency_key: StoredValue<IdempotencyKey>,
    context_type: ContextType,
    context_id: AgencyId,
    recipient: String,
    client: ApiClient,
    return_focus: NodeRef<html::Button>,
    on_sent: Callback<ConversationId>,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let text = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let state = RwSignal::new(SendState::Editing);
    let local_id = StoredValue::new(LocalId::generate());
    // Set once a send was tried: from then on the same key and local_id name this text.
    let attempted = StoredValue::new(false);
    // Editing after a try, or sending again after a success, is a new intent: it gets a
    // new key and local_id (reusing them with other text would be refused with 422).
    let start_new_intent = move || {
        idempotency_key.set_value(IdempotencyKey::generate());
        local_id.set_value(LocalId::generate());
        attempted.set_value(false);
    };
    let title_id = format!("compose-title-{}", local_id.with_value(|id| id.to_string()));
    let labelled_by = title_id.clone();

    // Open and close the native dialog with the signal.
    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else { return };
        if open.get() && !dialog.open() {
            let _ = dialog.show_modal();
        } else if !open.get() && dialog.open() {
            dialog.close();
        }
    });
    let on_close = move |_| {
        open.set(false);
        if let Some(button) = return_focus.get_untracked() {
            let _ = button.focus();
        }
    };

    let validation = move || MessageText::parse(&text.get()).err().map(|e| e.to_string());
    let sending = move || state.get() == SendState::Sending;

    let send = move || {
        if state.get_untracked() == SendState::Sending {
            return;
        }
        touched.set(true);
        let Ok(message) = MessageText::parse(&text.get_untracked()) else {
            return;
        };
        attempted.set_value(true);
        state.set(SendState::Sending);
        let request = CreateConversationRequest {
            context_type,
            context_id: *context_id.as_uuid(),
            initial_message: InitialMessage {
                text: message.to_string(),
                local_id: local_id.get_value().to_string(),
                user_agent: window().navigator().user_agent().ok(),
            },
        };
        let client = client.clone();
        let key = idempotency_key.get_value();
        spawn_local(async move {
            match send_with_retries(&client, &key, &request).await {
                Ok(response) if response.dedup == Some(DedupReason::NaturalKey) => {
                    state.set(SendState::AlreadyContacted(response.conversation.id));
                }
                Ok(response) => {
                    start_new_intent();
                    text.set(String::new());
                    touched.set(false);
                    state.set(SendState::Editing);
                    open.set(false);
                    on_sent.run(response.conversation.id);
                }
                Err(error) => state.set(SendState::Failed(error.message())),
            }
        });
    };

    view! {
        <dialog
            node_ref=dialog
            class="modal"
            aria-labelledby=labelled_by
            // Escape fires `cancel` at once, `close` only a task later: a quick Escape
            // then Enter on the button must find the modal closed already.
            on:cancel=move |_: web_sys::Event| open.set(false)
            on:close=on_close
            on:keydown=move |event| keep_focus_inside(&event)
        >
            <form
                method="dialog"
                class="modal__body"
                on:submit=move |event| {
                    event.prevent_default();
                    send();
                }
            >
                <header class="modal__header">
                    <h2 id=title_id>{format!("Message {recipient}")}</h2>
                    <button
                        type="button"
                        class="button ghost"
                        aria-label="Close"
                        on:click=move |_| open.set(false)
                    >
                        "×"
                    </button>
                </header>
                <label class="field">
                    <span>"Your message"</span>
                    // showModal() focuses this first, so one can type at once.
                    <textarea
                        name="text"
                        autofocus
                        rows="5"
                        required
                        readonly=sending
                        aria-invalid=move || (touched.get() && validation().is_some()).to_string()
                        aria-describedby="compose-error"
                        prop:value=move || text.get()
                        on:input=move |event| {
                            text.set(event_target_value(&event));
                            touched.set(true);
                            if attempted.get_value() {
                                start_new_intent();
                                state.set(SendState::Editing);
                            }
                        }
                    ></textarea>
                </label>
                <p id="compose-error" class="field__error" role="alert">
                    {move || touched.get().then(validation).flatten()}
                </p>
                {move || match state.get() {
                    SendState::Failed(message) => {
                        view! {
                            <p class="notice error" role="alert" data-testid="send-error">
                                {message}
                                " Your message is kept; sending again is safe."
                            </p>
                        }
                            .into_any()
                    }
                    SendState::AlreadyContacted(id) => {
                        view! {
                            <p class="notice info" role="status" data-testid="already-contacted">
                                "You already contacted this agency. Your message was added to that conversation. "
                                <button
                                    type="button"
                                    class="button link"
                                    on:click=move |_| {
                                        open.set(false);
                                        on_sent.run(id);
                                    }
                                >
                                    "Open the conversation"
                                </button>
                            </p>
                        }
                            .into_any()
                    }
                    _ => ().into_any(),
                }}
                <footer class="modal__footer">
                    <button
                        type="submit"
                        class="button primary"
                        disabled=move || sending() || (touched.get() && validation().is_some())
                        aria-busy=move || sending().to_string()
                    >
                        {move || match state.get() {
                            SendState::Sending => "Sending…",
                            SendState::Failed(_) => "Retry",
                            _ => "Send",
                        }}
                    </button>
                </footer>
            </form>
        </dialog>
    }
}

/// What Tab can reach inside the dialog.
const FOCUSABLE: &str = "button:not([disabled]), textarea:not([disabled]), input:not([disabled]), [href], [tabindex]:not([tabindex='-1'])";

/// Tab from the last control goes to the first, Shift+Tab from the first to the last:
/// `showModal()` makes the page inert, but Tab would still leave for the browser's own
/// controls, and the WAI-ARIA dialog pattern keeps focus in the dialog.
fn keep_focus_inside(event: &leptos::ev::KeyboardEvent) {
    use wasm_bindgen::JsCast;
    if event.key() != "Tab" {
        return;
    }
    let Some(dialog) = event
        .current_target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(focusable) = dialog.query_selector_all(FOCUSABLE) else {
        return;
    };
    let element = |i: u32| {
        focusable
            .item(i)
            .and_then(|node| node.dyn_into::<web_sys::HtmlElement>().ok())
    };
    let (Some(first), Some(last)) = (element(0), element(focusable.length().saturating_sub(1)))
    else {
        return;
    };
    let active = document().active_element();
    let (at_edge, wrap_to) = if event.shift_key() {
        (active.as_ref() == Some(first.as_ref()), last)
    } else {
        (active.as_ref() == Some(last.as_ref()), first)
    };
    if at_edge {
        event.prevent_default();
        let _ = wrap_to.focus();
    }
}

/// Sends, retrying by itself only what `core` calls retryable and only while the server
/// asks for patience (409 in flight, 429, 503); other failures go back to the person,
/// whose retry reuses the same key and local_id.
async fn send_with_retries(
    client: &ApiClient,
    key: &IdempotencyKey,
    request: &CreateConversationRequest,
) -> Result<messaging_core::wire::CreateConversationResponse, CallError> {
    let backoff = Backoff::default();
    let mut retry = 0;
    loop {
        match client
            .create_conversation(key, request, DEFAULT_TIMEOUT)
            .await
        {
            Ok(response) => return Ok(response),
            Err(error) => {
                let asked_to_wait = error.retry_after.is_some();
                let delay = backoff.delay(
                    retry,
                    error.failure,
                    js_sys::Math::random(),
                    error.retry_after,
                );
                match delay.filter(|_| asked_to_wait) {
                    Some(delay) => {
                        sleep(delay).await;
                        retry += 1;
                    }
                    None => return Err(error),
                }
            }
        }
    }
}

async fn sleep(duration: std::time::Duration) {
    let (sender, receiver) = futures_channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = sender.send(());
        },
        duration,
    );
    let _ = receiver.await;
}
