//! Web Locks: of all this origin's tabs, one at a time holds a named lock.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (web-sys offers it only behind `web_sys_unstable_apis`).
    type LockManager;

    #[wasm_bindgen(method)]
    fn request(this: &LockManager, name: &str, callback: &JsValue) -> js_sys::Promise;
}

/// Runs `work` while holding the named Web Lock, so that of all this origin's tabs only
/// one runs it at a time, and hands back its result (`None` only if the lock request
/// failed before it ran). Without Web Locks (an insecure context) it just runs: every
/// send is idempotent anyway, the lock only saves requests and keeps the order.
pub async fn with_tab_lock<T: 'static>(
    name: &str,
    work: impl Future<Output = T> + 'static,
) -> Option<T> {
    let locks = js_sys::Reflect::get(&leptos::prelude::window().navigator(), &"locks".into())
        .ok()
        .filter(|locks| !locks.is_undefined());
    let Some(locks) = locks else {
        return Some(work.await);
    };
    let result = Rc::new(RefCell::new(None));
    let callback = Closure::once_into_js({
        let result = Rc::clone(&result);
        move |_lock: JsValue| {
            wasm_bindgen_futures::future_to_promise(async move {
                let value = work.await;
                *result.borrow_mut() = Some(value);
                Ok(JsValue::UNDEFINED)
            })
        }
    });
    let held = locks
        .unchecked_into::<LockManager>()
        .request(name, &callback);
    let _ = wasm_bindgen_futures::JsFuture::from(held).await;
    result.take()
}
