use crate::api::{ApiClient, CallError, DEFAULT_TIMEOUT, DeviceHints, sleep};
use crate::compose::{Compose, SendState};
use crate::labels::{fill, use_labels};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::retry::Backoff;
use messaging_core::wire::{ContextType, CreateConversationRequest, CreateConversationResponse};
use messaging_core::{AgencyId, ConversationId, IdempotencyKey};

/// The compose dialog: a real `<dialog>` opened with `showModal()` (focus moves in, the
/// page behind is inert, Escape closes), labelled by its title; focus returns to
/// `return_focus` when it closes. What it does is [`Compose`]'s: every retry of a send
/// reuses its key and `local_id`, so a retry can never store a second copy.
///
/// [`SendMessageButton`](crate::SendMessageButton) opens it after its existence check;
/// an app can also open it with a button of its own:
///
/// ```
/// use leptos::{html, prelude::*};
/// use messaging_components::ComposeModal;
/// use messaging_components::api::ApiClient;
/// use messaging_core::wire::ContextType;
/// use messaging_core::{AgencyId, IdempotencyKey};
///
/// #[component]
/// fn WriteNow(agency: AgencyId) -> impl IntoView {
///     let open = RwSignal::new(false);
///     let button = NodeRef::<html::Button>::new();
///     view! {
///         <button node_ref=button on:click=move |_| open.set(true)>"Write"</button>
///         <ComposeModal
///             open
///             idempotency_key=IdempotencyKey::generate()
///             context_type=ContextType::AgencyInquiry
///             context_id=agency
///             recipient="Northwind Travel".to_owned()
///             client=ApiClient::new("")
///             return_focus=button
///             on_sent=Callback::new(|_| ())
///         />
///     }
/// }
/// ```
#[component]
pub fn ComposeModal(
    /// Whether the dialog is open; it sets it back to `false` when it closes.
    open: RwSignal<bool>,
    /// The intent's key, made when the button mounted.
    idempotency_key: IdempotencyKey,
    /// What the conversation is about, and with whom (its `context_id`).
    context_type: ContextType,
    context_id: AgencyId,
    /// Shown in the title (the labels' `compose_title`).
    recipient: String,
    /// The API the send goes to.
    client: ApiClient,
    /// Gets the focus back when the dialog closes.
    return_focus: NodeRef<html::Button>,
    /// Called with the conversation once the message is in it.
    on_sent: Callback<ConversationId>,
) -> impl IntoView {
    let labels = use_labels();
    let dialog = NodeRef::<html::Dialog>::new();
    let compose = RwSignal::new(Compose::new(idempotency_key));
    let title_id = compose.with_untracked(|c| format!("compose-title-{}", c.local_id()));
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
        // A `close` queued before the dialog was opened again (Escape, then a quick
        // click on the button) must not close it.
        if dialog.get_untracked().is_some_and(|dialog| dialog.open()) {
            return;
        }
        open.set(false);
        if let Some(button) = return_focus.get_untracked() {
            let _ = button.focus();
        }
    };
    let send = move || {
        let device = DeviceHints::of_this_browser();
        let Some(send) = compose
            .try_update(|c| c.send(context_type, context_id, device))
            .flatten()
        else {
            return;
        };
        let client = client.clone();
        spawn_local(async move {
            let answer = send_with_retries(&client, &send.key, &send.request).await;
            if let Some(id) = compose.try_update(|c| c.answered(answer)).flatten() {
                open.set(false);
                on_sent.run(id);
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
                    <h2 id=title_id>{fill(&labels.compose_title, &[("recipient", &recipient)])}</h2>
                    <button
                        type="button"
                        class="button ghost"
                        aria-label=labels.close.to_string()
                        on:click=move |_| open.set(false)
                    >
                        "×"
                    </button>
                </header>
                <MessageField compose />
                <SendNotice compose open on_sent />
                <footer class="modal__footer">
                    <button
                        type="submit"
                        class="button primary"
                        disabled=move || !compose.with(Compose::can_send)
                        aria-busy=move || compose.with(Compose::is_sending).to_string()
                    >
                        {move || compose.with(|c| c.button_label(&labels).to_owned())}
                    </button>
                </footer>
            </form>
        </dialog>
    }
}

/// The message, with the rule it breaks under it.
#[component]
fn MessageField(compose: RwSignal<Compose>) -> impl IntoView {
    let labels = use_labels();
    let problem = {
        let labels = labels.clone();
        move || compose.with(|c| c.problem().map(|p| labels.text_problem(&p)))
    };
    view! {
        <label class="field">
            <span>{labels.your_message.to_string()}</span>
            // showModal() focuses this first, so one can type at once.
            <textarea
                name="text"
                autofocus
                rows="5"
                required
                readonly=move || compose.with(Compose::is_sending)
                aria-invalid=move || compose.with(|c| c.problem().is_some()).to_string()
                aria-describedby="compose-error"
                prop:value=move || compose.with(|c| c.text().to_owned())
                on:input=move |event| compose.update(|c| c.edit(event_target_value(&event)))
            ></textarea>
        </label>
        <p id="compose-error" class="field__error" role="alert">
            {problem}
        </p>
    }
}

/// Why the last send did not leave the dialog: an error, or a conversation that existed.
#[component]
fn SendNotice(
    compose: RwSignal<Compose>,
    open: RwSignal<bool>,
    on_sent: Callback<ConversationId>,
) -> impl IntoView {
    let labels = use_labels();
    move || match compose.with(|c| c.state().clone()) {
        SendState::Failed(error) => view! {
            <p class="notice error" role="alert" data-testid="send-error">
                {format!("{} {}", error.message(&labels), labels.kept_for_retry)}
            </p>
        }
        .into_any(),
        SendState::AlreadyContacted(id) => view! {
            <p class="notice info" role="status" data-testid="already-contacted">
                {format!("{} ", labels.already_contacted)}
                <button
                    type="button"
                    class="button link"
                    on:click=move |_| {
                        open.set(false);
                        on_sent.run(id);
                    }
                >
                    {labels.open_conversation.to_string()}
                </button>
            </p>
        }
        .into_any(),
        SendState::Editing | SendState::Sending => ().into_any(),
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

/// Sends, retrying by itself only while the server asks for patience (`core`'s
/// [`Backoff::delay_when_asked`]); other failures go back to the person, whose retry
/// reuses the same key and local_id.
async fn send_with_retries(
    client: &ApiClient,
    key: &IdempotencyKey,
    request: &CreateConversationRequest,
) -> Result<CreateConversationResponse, CallError> {
    let backoff = Backoff::default();
    let mut retry = 0;
    loop {
        let error = match client
            .create_conversation(key, request, DEFAULT_TIMEOUT)
            .await
        {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        let jitter = js_sys::Math::random();
        match backoff.delay_when_asked(retry, error.failure, jitter, error.retry_after) {
            Some(delay) => {
                sleep(delay).await;
                retry += 1;
            }
            None => return Err(error),
        }
    }
}
