//! What keeps other sites out. Unsafe requests a browser marks as coming from another
//! site are refused ([`refuse_cross_site`]). Pages carry a Content-Security-Policy built
//! on the nonce Leptos renders on every script it writes (hydration, islands, resolved
//! resources): scripts run only from this origin or inline with that nonce; wasm may be
//! compiled; nothing is framed, no plugin runs, no `<base>` redirects relative URLs,
//! forms post only here. Every other answer (the API's JSON, files) gets [`NOT_A_PAGE`],
//! which forbids framing alone.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use messaging_core::ProblemCode;

/// The policy of answers that are not pages.
pub const NOT_A_PAGE: &str = "frame-ancestors 'none'";

/// The policy of a page whose inline scripts carry `nonce`.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// Sets the page's policy on the response being rendered; call it in the context of a
/// Leptos render (`leptos_routes_with_context`'s context function). Outside one (a
/// server function's answer, which runs no script), it does nothing.
#[cfg(feature = "leptos-pages")]
pub fn set_page_policy() {
    use axum::http::{HeaderValue, header};
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// Refuses unsafe requests that a browser marks as coming from another site, the way
/// Go 1.25's `http.CrossOriginProtection` does: `Sec-Fetch-Site` first, else `Origin`
/// against `Host`. Requests with neither header are not from a browser and pass.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_cross_site(&request) {
        return ApiError::new(
            ProblemCode::CrossSiteRequest,
            "Requests from other sites may not change anything here.",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_cross_site(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_policy_allows_inline_script_only_with_the_nonce() {
        let policy = super::page_policy("abc123");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        for directive in [
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{directive}");
        }
    }
}
