// With JavaScript off, the pages still work: signing in, the compose form (whose key
// was rendered by the server, so a second submit replays the first), and chatting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser } from "../support/browser.mjs";
import { apiAs, assertExactlyOnce, inView, pageErrors, shownTexts, signIn } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

/** Waits until the page ends on `pattern`: the second of two submits cancels the first
 * one's navigation (net::ERR_ABORTED), so waiting for one navigation is not enough. */
async function settlesOn(page, pattern) {
  const deadline = Date.now() + 15_000;
  while (!pattern.test(page.url())) {
    assert.ok(Date.now() < deadline, `the page did not end on ${pattern}: ${page.url()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await page.waitForLoadState();
}

async function noScriptPage() {
  const context = await env.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  return { context, page, errors: pageErrors(page) };
}

test("no page breaks its Content-Security-Policy, signed out and signed in", async () => {
  const { context, page, errors } = await noScriptPage();
  const base = env.server.baseUrl;
  for (const path of ["/", "/sign-in", "/agencies", "/agencies/northwind", "/no-such-page"]) {
    await page.goto(`${base}${path}`);
  }
  await signIn(page, base, "bob", "/agencies", { hydrated: false });
  for (const path of ["/agencies/northwind", "/agencies/northwind/message", "/conversations"]) {
    await page.goto(`${base}${path}`);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("signed-out visitors are sent to sign in and back", async () => {
  const { context, page, errors } = await noScriptPage();
  await page.goto(`${env.server.baseUrl}/conversations`);
  assert.equal(new URL(page.url()).pathname, "/sign-in");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: /username or password/i }).waitFor();
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === "/conversations");
  assert.deepEqual(errors, []);
  await context.close();
});

test("8. the compose form posts once even when submitted twice", async () => {
  const { context, page, errors } = await noScriptPage();
  await signIn(page, env.server.baseUrl, "alice", "/agencies/northwind", { hydrated: false });
  // Without script the button submits its fallback form: the compose page.
  await page.getByRole("button", { name: "Send message" }).click();
  await page.waitForURL((url) => url.pathname === "/agencies/northwind/message");
  await page.getByLabel("Your message").fill("Sent with scripts off");
  const form = page.locator("form", { has: page.getByLabel("Your message") });
  const fields = Object.fromEntries(
    await form.locator("input[type=hidden]").evaluateAll((inputs) => inputs.map((i) => [i.name, i.value])),
  );
  assert.ok(fields.idempotency_key && fields.local_id, "the server rendered the key and local_id");
  const action = await form.getAttribute("action");

  // A double click submits twice; then the same form is posted once more, as a
  // browser does when the person goes back and presses Send again.
  await page.getByRole("button", { name: "Send" }).dblclick();
  await settlesOn(page, /\/conversations\/[0-9a-f-]{36}$/);
  const again = await context.request.post(`${env.server.baseUrl}${action}`, {
    form: { ...fields, text: "Sent with scripts off" },
    headers: { accept: "text/html", origin: env.server.baseUrl },
    maxRedirects: 0,
  });
  assert.equal(again.status(), 302);
  assert.equal(new URL(again.headers().location, env.server.baseUrl).pathname, new URL(page.url()).pathname);

  await assertExactlyOnce(await apiAs(env.server.baseUrl, "alice"), "northwind", ["Sent with scripts off"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("chatting works without script, and a failed post keeps the text", async () => {
  const { context, page, errors } = await noScriptPage();
  const api = await apiAs(env.server.baseUrl, "bob");
  const id = await api.contact("blue-harbor", "First");
  await signIn(page, env.server.baseUrl, "bob", `/conversations/${id}`, { hydrated: false });

  await page.getByPlaceholder("Write a message…").fill("Second, by form");
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForURL((url) => url.pathname === `/conversations/${id}` && url.search === "");
  assert.deepEqual(await shownTexts(page), ["First", "Second, by form"]);

  // Too long for the server: it comes back with the error and the text kept.
  const long = "x".repeat(4001);
  await page.getByPlaceholder("Write a message…").fill(long);
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByRole("alert").filter({ hasText: "sending again is safe" }).waitFor();
  assert.equal(await page.getByPlaceholder("Write a message…").inputValue(), long);

  await assertExactlyOnce(api, "blue-harbor", ["First", "Second, by form"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a long conversation opens at its newest message", async () => {
  const { context, page, errors } = await noScriptPage();
  const api = await apiAs(env.server.baseUrl, "carol");
  const id = await api.contact("summit-events", "msg-1");
  for (let n = 2; n <= 30; n++) {
    const sent = await api.post("/api/chat", { conversation_id: id, text: `msg-${n}`, local_id: `long-${n}` });
    assert.equal(sent.status, 202);
  }
  await signIn(page, env.server.baseUrl, "carol", `/conversations/${id}`, { hydrated: false });
  assert.equal((await shownTexts(page)).length, 30);
  const visible = await inView(page);
  assert.ok(visible.includes("msg-30"), `the newest is in view: ${visible}`);
  assert.ok(!visible.includes("msg-1"), `the list scrolls: ${visible}`);
  assert.deepEqual(errors, []);
  await context.close();
});
