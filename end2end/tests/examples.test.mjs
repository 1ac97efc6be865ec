// The examples (examples/), each an app of its own using the component library beside
// the API, in Chromium: open an agency, check, compose, send (the first try is lost and
// the retry carries the same key and local_id), the outbox across a reload, a live reply.
// The client-side rendered one speaks French through the library's Labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repo, startServer } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { PASSWORD, apiAs, assertExactlyOnce, pageErrors, shownTexts } from "../support/app.mjs";

const examples = [
  {
    name: "hydrate",
    binary: "example-hydrate",
    entry: "hydrate",
    words: { username: "Username", password: "Password", signIn: "Sign in", sendMessage: "Send message", yourMessage: "Your message", send: "Send", retry: "Retry", composer: "Write a message…" },
  },
  {
    name: "csr",
    binary: "example-csr",
    entry: "start",
    words: { username: "Identifiant", password: "Mot de passe", signIn: "Se connecter", sendMessage: "Envoyer un message", yourMessage: "Votre message", send: "Envoyer", retry: "Réessayer", composer: "Écrire un message…" },
  },
];

const isCreate = (request) =>
  request.method() === "POST" && new URL(request.url()).pathname === "/api/messages/conversations";

/** The functions a bundle's JS glue exports for what the wasm exports to JavaScript:
 * all but wasm-bindgen's loaders and the classes (Leptos' server functions' streams). */
async function exportedFunctions(name) {
  const glue = await import(pathToFileURL(join(repo, "target/examples", name, "pkg", `example_${name}.js`)).href);
  const loaders = ["default", "initSync"];
  return Object.entries(glue)
    .filter(([exported, value]) => !loaders.includes(exported) && !/^class\b/.test(Function.prototype.toString.call(value)))
    .map(([exported]) => exported);
}

for (const { name, entry } of examples) {
  test(`example ${name}: the library exports nothing to JavaScript, the app its own entry only`, async () => {
    assert.deepEqual(await exportedFunctions(name), [entry]);
  });
}

for (const { name, binary, words } of examples) {
  test(`example ${name}: send with a retry, the outbox across a reload, a live reply`, async () => {
    const server = await startServer({ LEPTOS_SITE_ROOT: join(repo, "target/examples", name) }, { binary });
    const browser = await launchBrowser();
    try {
      const base = server.baseUrl;
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = pageErrors(page);
      // The app's own sign-in form, through the API: the session cookie lands in the browser.
      await page.goto(`${base}/sign-in`);
      await waitForHydration(page);
      await page.getByLabel(words.username).fill("alice");
      await page.getByLabel(words.password).fill(PASSWORD);
      await page.getByRole("button", { name: words.signIn }).click();
      await page.waitForURL(`${base}/agencies/northwind`);

      // The first create is lost on the way; the person's retry must be the same intent.
      const creates = [];
      page.on("request", (request) => {
        if (isCreate(request)) creates.push({ key: request.headers()["idempotency-key"], body: request.postDataJSON() });
      });
      let lost = false;
      await context.route(
        (url) => url.pathname === "/api/messages/conversations",
        (route) => (isCreate(route.request()) && !lost ? ((lost = true), route.abort("internetdisconnected")) : route.continue()),
      );

      await waitForHydration(page);
      await page.getByRole("button", { name: words.sendMessage }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel(words.yourMessage).fill("Hello from an app of my own");
      await dialog.getByRole("button", { name: words.send, exact: true }).click();
      await dialog.locator("[data-testid=send-error]").waitFor();
      await dialog.getByRole("button", { name: words.retry }).click();
      await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
      assert.equal(creates.length, 2, "one lost try, one retry");
      assert.equal(creates[1].key, creates[0].key, "the retry carries the same Idempotency-Key");
      assert.equal(creates[1].body.initial_message.local_id, creates[0].body.initial_message.local_id);
      const id = page.url().split("/").pop();
      await page.locator("li.message", { hasText: "Hello from an app of my own" }).waitFor();

      // The check finds the conversation now: the button opens it without the dialog.
      await page.goto(`${base}/agencies/northwind`);
      await waitForHydration(page);
      await page.getByRole("button", { name: words.sendMessage }).click();
      await page.waitForURL(`${base}/conversations/${id}`);
      await waitForHydration(page);

      // Written while the API is unreachable: kept across a reload, then delivered once.
      await context.route("**/api/chat", (route) => route.abort("internetdisconnected"));
      const composer = page.getByPlaceholder(words.composer);
      await composer.fill("Written offline");
      await composer.press("Enter");
      await page.locator("[data-delivery=failed]").waitFor();
      await page.reload();
      await waitForHydration(page);
      await page.locator("li.message", { hasText: "Written offline" }).waitFor();
      await context.unroute("**/api/chat");
      await context.setOffline(true);
      await context.setOffline(false);
      await page.locator("li.message[data-delivery=sent]", { hasText: "Written offline" }).waitFor();

      // The agency answers: the reply appears live.
      const carol = await apiAs(base, "carol");
      const reply = await carol.post("/api/chat", { conversation_id: id, text: "Welcome!", local_id: crypto.randomUUID() });
      assert.equal(reply.status, 202);
      await page.locator("li.message", { hasText: "Welcome!" }).waitFor();

      const texts = ["Hello from an app of my own", "Written offline", "Welcome!"];
      assert.deepEqual(await shownTexts(page), texts);
      await assertExactlyOnce(await apiAs(base, "alice"), "northwind", texts);
      assert.deepEqual(errors, []);
      await context.close();
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}
