use crate::support::{element, mount, text_of};
use app::components::KeyMaker;
use messaging_core::IdempotencyKey;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn key_maker_makes_a_new_valid_key_on_each_click() {
    let root = mount(KeyMaker);
    assert_eq!(text_of(&root, "[data-testid=key]"), "No key yet");

    element(&root, "button").click();
    leptos::task::tick().await;
    let first = text_of(&root, "[data-testid=key]");
    assert!(
        IdempotencyKey::parse(&first).is_ok(),
        "not a key: {first:?}"
    );
    assert_eq!(text_of(&root, "[data-testid=made]"), "1 made");

    element(&root, "button").click();
    leptos::task::tick().await;
    let second = text_of(&root, "[data-testid=key]");
    assert_ne!(first, second);
    assert_eq!(text_of(&root, "[data-testid=made]"), "2 made");
}
