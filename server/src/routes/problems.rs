//! The problem answers each operation documents in the OpenAPI description. A status is
//! described by the titles and codes of the problems it carries (`core`'s), so no
//! description is written twice.

use messaging_core::{Problem, ProblemCode};
use std::collections::BTreeMap;
use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The documented responses for `codes`, one per status.
fn problem_responses(codes: &[ProblemCode]) -> BTreeMap<String, RefOr<Response>> {
    let mut described: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for code in codes {
        described
            .entry(code.status().to_string())
            .or_default()
            .push(format!("{} (`{code}`)", code.title()));
    }
    described
        .into_iter()
        .map(|(status, descriptions)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(descriptions.join("; "))
                .content(Problem::CONTENT_TYPE, content)
                .build();
            (status, RefOr::T(response))
        })
        .collect()
}

macro_rules! problems {
    ($($(#[$doc:meta])* $name:ident: [$($code:ident),+ $(,)?];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problem_responses(&[$(ProblemCode::$code),+])
            }
        }
    )+};
}

problems! {
    /// `POST /api/session`.
    SignInProblems: [MalformedBody, InvalidCredentials, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, RateLimited, Unavailable];
    /// Anything that needs a session and names nothing.
    SessionProblems: [Unauthenticated];
    /// A lookup of something that may not exist.
    LookupProblems: [NotFound];
    /// A read of a signed-in user's conversation.
    ReadProblems: [Unauthenticated, NotFound];
    /// A page of a list, by query.
    ListProblems: [MalformedBody, Unauthenticated];
    /// A page of a conversation's messages.
    PageProblems: [MalformedBody, Unauthenticated, NotFound];
    /// `POST /api/messages/conversations`.
    CreateProblems: [
        MalformedBody, IdempotencyKeyMissing, IdempotencyKeyInvalid, Unauthenticated, NotFound,
        IdempotencyKeyInFlight, PayloadTooLarge, UnsupportedMediaType, ValidationFailed,
        IdempotencyKeyReused,
    ];
    /// `POST /api/chat`.
    ChatProblems: [
        MalformedBody, Unauthenticated, NotFound, PayloadTooLarge, UnsupportedMediaType,
        ValidationFailed, LocalIdReused,
    ];
}
