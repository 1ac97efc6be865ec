//! The components, one public component per file.

mod compose_modal;
mod compose_parts;
mod conversation_view;
mod device_icon;
mod send_message_button;
mod sign_out_button;
mod timestamp;
mod unsent_in;
mod unsent_messages;

pub use compose_modal::ComposeModal;
pub use conversation_view::ConversationView;
pub use device_icon::DeviceIcon;
pub use send_message_button::{DEFAULT_CHECK_TIMEOUT, SendMessageButton};
pub use sign_out_button::SignOutButton;
pub use timestamp::Timestamp;
pub use unsent_in::UnsentIn;
pub use unsent_messages::UnsentMessages;

use leptos::prelude::{request_idle_callback_with_handle, set_timeout};

/// Runs `task` once the page is idle: `requestIdleCallback` where the browser has it
/// (Safari has not), else after the current task.
fn when_idle(task: impl Fn() + Clone + 'static) {
    if request_idle_callback_with_handle(task.clone()).is_err() {
        set_timeout(task, std::time::Duration::ZERO);
    }
}
