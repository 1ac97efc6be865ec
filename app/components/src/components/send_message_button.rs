use super::compose_parts::{self, ComposeParts, DialogProps};
use super::when_idle;
use crate::api::ApiClient;
use crate::compose::{AfterCheck, Click, ExistenceCheck};
use crate::labels::use_labels;
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
///
/// The modal is rendered when it first opens, and then kept (with its draft). With the
/// feature `lazy-compose` (for a bundle split by wasm-split) its code and the check's
/// arrive in a chunk of their own, loaded when the page is idle or at the first click;
/// should it not arrive within `check_timeout`, the button leads to `fallback_href`, or
/// stays ready for another click.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::SendMessageButton;
/// use messaging_core::{AgencyId, ConversationId};
/// use std::time::Duration;
///
/// #[component]
/// fn Contact(agency: AgencyId, name: String) -> impl IntoView {
///     // An app with its own router opens conversations itself.
///     let open = Callback::new(|id: ConversationId| leptos::logging::log!("open {id}"));
///     view! {
///         <SendMessageButton
///             context_id=agency
///             recipient=name
///             check_timeout=Duration::from_secs(5)
///             on_open=open
///             fallback_href="/contact-form"
///         />
///     }
/// }
/// ```
#[component]
pub fn SendMessageButton(
    /// The agency to contact.
    #[prop(into)]
    context_id: AgencyId,
    /// Shown in the modal's title: "Message {recipient}".
    #[prop(into)]
    recipient: String,
    /// What the conversation is about (default: an agency inquiry).
    #[prop(optional)]
    context_type: Option<ContextType>,
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
    let key = IdempotencyKey::generate();
    let check = RwSignal::new(ExistenceCheck::default());
    let modal_open = RwSignal::new(false);
    // The dialog, once the first click has loaded it.
    let make_dialog = RwSignal::new(None::<fn(DialogProps) -> AnyView>);
    let button_ref = NodeRef::<html::Button>::new();
    let open = on_open.unwrap_or_else(|| Callback::new(go_to_conversation));

    let on_click = {
        let client = client.clone();
        let fallback_href = fallback_href.clone();
        move |event: leptos::ev::MouseEvent| {
            // The script handles it: the fallback form is not followed.
            event.prevent_default();
            match check.try_update(|c| c.click(modal_open.get_untracked())) {
                Some(Click::Check) => {}
                Some(Click::Reopen) => return modal_open.set(true),
                Some(Click::Nothing) | None => return,
            }
            let client = client.clone();
            let fallback_href = fallback_href.clone();
            spawn_local(async move {
                let Ok(parts) = compose_parts::load_within(check_timeout).await else {
                    // The dialog's code did not arrive in time: the plain form, if there
                    // is one (and the button is still shown); else the next click tries
                    // again.
                    let shown = check.try_update(ExistenceCheck::abandon).is_some();
                    if let (true, Some(href)) = (shown, fallback_href) {
                        let _ = window().location().set_href(&href);
                    }
                    return;
                };
                let ComposeParts {
                    find_conversation,
                    dialog,
                } = parts;
                let found =
                    find_conversation(client, context_type, context_id, check_timeout).await;
                match check.try_update(|c| c.finish(found)) {
                    Some(AfterCheck::Open(id)) => open.run(id),
                    Some(AfterCheck::Compose) => {
                        // Once: a dialog made again would lose its draft and its
                        // `local_id` (a retry of a send would then be another message).
                        if make_dialog.with_untracked(Option::is_none) {
                            make_dialog.set(Some(dialog));
                        }
                        modal_open.set(true);
                    }
                    None => {} // Unmounted meanwhile.
                }
            });
        }
    };
    // Loaded before anyone clicks, once the page is idle.
    Effect::new(move |_| {
        when_idle(|| spawn_local(async { _ = compose_parts::load().await }));
    });
    let checking = move || check.with(ExistenceCheck::is_running);
    let labels = use_labels();
    let label = move || {
        if checking() {
            labels.checking.to_string()
        } else {
            labels.send_message.to_string()
        }
    };
    let button = view! {
        <button
            type=if fallback_href.is_some() { "submit" } else { "button" }
            class="button primary send-message-button"
            node_ref=button_ref
            aria-haspopup="dialog"
            aria-busy=move || checking().to_string()
            on:click=on_click
        >
            {label}
        </button>
    };
    let dialog = move || {
        make_dialog.get().map(|make_dialog| {
            make_dialog(DialogProps {
                open: modal_open,
                key: key.clone(),
                context_type,
                context_id,
                recipient: recipient.clone(),
                client: client.clone(),
                return_focus: button_ref,
                on_sent: open,
            })
        })
    };
    view! {
        <FallbackForm href=fallback_href>{button}</FallbackForm>
        {dialog}
    }
}

/// Without script, the button submits a plain form to `href` (a page with a
/// server-rendered compose form); with none, the children stand alone.
#[component]
fn FallbackForm(href: Option<String>, children: Children) -> impl IntoView {
    match href {
        Some(href) => view! {
            <form class="send-message-form" method="get" action=href>
                {children()}
            </form>
        }
        .into_any(),
        None => children().into_any(),
    }
}

fn go_to_conversation(id: ConversationId) {
    let _ = window()
        .location()
        .set_href(&format!("/conversations/{id}"));
}
