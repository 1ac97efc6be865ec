//! Leptos 0.8 components for idempotent messaging on a marketplace: a **Send message**
//! button whose compose dialog can never start a second conversation with the same
//! agency, and a conversation view whose messages are never stored twice, however the
//! network fails. The server they talk to is this project's API (`/api`, see its OpenAPI
//! document); the rules both sides share come from `messaging-core`.
//!
//! - [`SendMessageButton`] (with its [`ComposeModal`]): makes an `Idempotency-Key` when
//!   it mounts, checks whether a conversation exists, opens it or lets the person write.
//! - [`ConversationView`]: the messages, live, with a composer whose messages wait in an
//!   [`Outbox`](outbox::Outbox) until the server has them.
//! - [`DeviceIcon`], [`Timestamp`]: the small parts a message line shows.
//! - [`UnsentMessages`], [`SignOutButton`]: for a page's header, how many messages wait
//!   to be sent, and a sign-out that asks before it discards them; [`UnsentIn`]: where a
//!   conversation cannot be opened any more, the messages written there, to discard.
//! - [`api::ApiClient`]: the typed client they use, for an app's own calls.
//! - [`Labels`]: every text a person reads, with English defaults.
//!
//! The crate has no pages, server functions or server framework, and exports nothing to
//! JavaScript: it works in client-side rendered, server-rendered and hydrated apps
//! (features `csr`, `ssr`, `hydrate`, passed to Leptos). Apps built with Leptos islands
//! turn on `islands` for the `islands` module's wrappers, or in a browser bundle only
//! the features of the islands its pages show (see the module). A bundle split with
//! wasm-split's CLI can turn on `lazy-compose`: the compose dialog's code, with the
//! existence check's, is then a chunk loaded once the page is idle or at the first click.
//!
//! ```
//! use leptos::prelude::*;
//! use messaging_components::SendMessageButton;
//! use messaging_core::AgencyId;
//!
//! #[component]
//! fn AgencyPage(agency: AgencyId) -> impl IntoView {
//!     view! { <SendMessageButton context_id=agency recipient="Northwind Travel" /> }
//! }
//! ```

#![warn(missing_docs)]

pub mod api;
mod components;
pub mod compose;
pub mod islands;
mod labels;
mod live;
pub mod outbox;
pub mod timeline;

pub use components::{
    ComposeModal, ConversationView, DEFAULT_CHECK_TIMEOUT, DeviceIcon, SendMessageButton,
    SignOutButton, Timestamp, UnsentIn, UnsentMessages,
};
pub use labels::{Labels, fill, provide_labels, use_labels};
