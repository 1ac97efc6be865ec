// Contacting an agency while the network misbehaves: faults are injected with
// Playwright's request routing in front of the real server, and every scenario ends
// by asking the API that exactly one conversation and one copy of each message exist.
// Each scenario uses its own (user, agency) pair, so they share one server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { apiAs, assertExactlyOnce, pageErrors, signIn } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

/** The create-or-check endpoint (GET is the existence check, POST the send). */
const conversationsEndpoint = (url) => url.pathname === "/api/messages/conversations";

async function openAgency(user, slug) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  await signIn(page, env.server.baseUrl, user, `/agencies/${slug}`);
  return { context, page, errors };
}

async function openModal(page) {
  await page.getByRole("button", { name: "Send message" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  return dialog;
}

test("1. an existence check slower than the timeout opens the modal; the send finds the conversation", async () => {
  const api = await apiAs(env.server.baseUrl, "alice");
  const agency = await api.agency("northwind");
  const earlier = await api.post(
    "/api/messages/conversations",
    { context_type: "agency_inquiry", context_id: agency.id, initial_message: { text: "Sent from my phone", local_id: "phone-1" } },
    { "Idempotency-Key": crypto.randomUUID() },
  );
  assert.equal(earlier.status, 201);

  const { context, page, errors } = await openAgency("alice", "northwind");
  await page.route(conversationsEndpoint, async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    await new Promise((resolve) => setTimeout(resolve, 11_000)); // past the 10 s timeout
    await route.abort("timedout").catch(() => {});
  });
  const started = Date.now();
  const dialog = await openModal(page);
  const waited = Date.now() - started;
  assert.ok(waited >= 9_500, `the modal waited for the check's timeout (${waited} ms)`);

  await dialog.getByLabel("Your message").fill("Written after the check timed out");
  await dialog.getByRole("button", { name: "Send" }).click();
  await dialog.getByTestId("already-contacted").waitFor();
  await dialog.getByRole("button", { name: "Open the conversation" }).click();
  await page.waitForURL(new RegExp(`/conversations/${earlier.body.conversation.id}$`));

  await assertExactlyOnce(api, "northwind", ["Sent from my phone", "Written after the check timed out"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("2. a double and a triple click on send store one conversation and one message", async () => {
  const { context, page, errors } = await openAgency("alice", "blue-harbor");
  let posts = 0;
  await page.route(conversationsEndpoint, async (route) => {
    if (route.request().method() === "POST") {
      posts += 1;
      await new Promise((resolve) => setTimeout(resolve, 300)); // clicks land while in flight
    }
    await route.continue();
  });
  const dialog = await openModal(page);
  await dialog.getByLabel("Your message").fill("Clicked impatiently");
  const send = dialog.getByRole("button", { name: "Send" });
  await send.click({ clickCount: 3 });
  await send.dblclick({ force: true }).catch(() => {}); // it may be gone already
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);

  assert.equal(posts, 1, "send is disabled while a request is in flight");
  await assertExactlyOnce(await apiAs(env.server.baseUrl, "alice"), "blue-harbor", ["Clicked impatiently"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("3. a send that fails with a network error is retried with the same key and local_id", async () => {
  const { context, page, errors } = await openAgency("alice", "summit-events");
  const sent = [];
  await page.route(conversationsEndpoint, async (route) => {
    const request = route.request();
    if (request.method() !== "POST") return route.continue();
    sent.push({ key: request.headers()["idempotency-key"], body: request.postDataJSON() });
    if (sent.length === 1) return route.abort("internetdisconnected");
    return route.continue();
  });
  const dialog = await openModal(page);
  await dialog.getByLabel("Your message").fill("Sent on a flaky train");
  await dialog.getByRole("button", { name: "Send" }).click();
  await dialog.getByTestId("send-error").waitFor();
  await dialog.getByRole("button", { name: "Retry" }).click();
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);

  assert.equal(sent.length, 2);
  assert.equal(sent[1].key, sent[0].key);
  assert.equal(sent[1].body.initial_message.local_id, sent[0].body.initial_message.local_id);
  await assertExactlyOnce(await apiAs(env.server.baseUrl, "alice"), "summit-events", ["Sent on a flaky train"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("4. a response lost after the server committed is retried and replayed", async () => {
  const { context, page, errors } = await openAgency("bob", "northwind");
  let posts = 0;
  await page.route(conversationsEndpoint, async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    posts += 1;
    if (posts === 1) {
      await route.fetch(); // the server stores it...
      return route.abort("connectionreset"); // ...and the answer never arrives
    }
    return route.continue();
  });
  const replayed = page.waitForResponse(
    (response) => conversationsEndpoint(new URL(response.url())) && response.request().method() === "POST",
  );
  const dialog = await openModal(page);
  await dialog.getByLabel("Your message").fill("Did this arrive?");
  await dialog.getByRole("button", { name: "Send" }).click();
  await dialog.getByTestId("send-error").waitFor();
  await dialog.getByRole("button", { name: "Retry" }).click();
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);

  assert.equal((await replayed).headers()["idempotent-replayed"], "true");
  await assertExactlyOnce(await apiAs(env.server.baseUrl, "bob"), "northwind", ["Did this arrive?"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("5. two tabs of one user contacting the same agency at once share one conversation", async () => {
  const { context, page: first, errors } = await openAgency("bob", "blue-harbor");
  const second = await context.newPage();
  const secondErrors = pageErrors(second);
  await second.goto(`${env.server.baseUrl}/agencies/blue-harbor`);
  await waitForHydration(second);

  const dialogs = [await openModal(first), await openModal(second)];
  await dialogs[0].getByLabel("Your message").fill("From the first tab");
  await dialogs[1].getByLabel("Your message").fill("From the second tab");
  await Promise.all(dialogs.map((dialog) => dialog.getByRole("button", { name: "Send" }).click()));

  // One tab made the conversation and went there; the other was told it existed.
  const outcome = (page, dialog) =>
    Promise.race([
      page.waitForURL(/\/conversations\//).then(() => "created"),
      dialog.getByTestId("already-contacted").waitFor().then(() => "merged"),
    ]);
  const outcomes = await Promise.all([outcome(first, dialogs[0]), outcome(second, dialogs[1])]);
  assert.deepEqual(outcomes.toSorted(), ["created", "merged"]);

  await assertExactlyOnce(
    await apiAs(env.server.baseUrl, "bob"),
    "blue-harbor",
    ["From the first tab", "From the second tab"],
    { anyOrder: true },
  );
  assert.deepEqual([...errors, ...secondErrors], []);
  await context.close();
});

test("a 409 in flight is waited out by itself (Retry-After) and the send completes once", async () => {
  const { context, page, errors } = await openAgency("bob", "summit-events");
  const sent = [];
  await page.route(conversationsEndpoint, async (route) => {
    const request = route.request();
    if (request.method() !== "POST") return route.continue();
    sent.push({ at: Date.now(), key: request.headers()["idempotency-key"] });
    if (sent.length > 1) return route.continue();
    // What the server answers while the same key is still being processed.
    return route.fulfill({
      status: 409,
      headers: { "content-type": "application/problem+json", "retry-after": "1" },
      body: JSON.stringify({
        type: "about:blank",
        title: "Request in flight",
        status: 409,
        detail: "A request with this Idempotency-Key is still being processed.",
        code: "idempotency_key_in_flight",
      }),
    });
  });
  const dialog = await openModal(page);
  await dialog.getByLabel("Your message").fill("Patience pays");
  await dialog.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);

  assert.equal(sent.length, 2, "retried once, without the user doing anything");
  assert.equal(sent[1].key, sent[0].key);
  assert.ok(sent[1].at - sent[0].at >= 950, `waited for Retry-After (${sent[1].at - sent[0].at} ms)`);
  await assertExactlyOnce(await apiAs(env.server.baseUrl, "bob"), "summit-events", ["Patience pays"]);
  assert.deepEqual(errors, []);
  await context.close();
});

/** The compose dialog's code: a chunk the agency page loads on demand, named after the build
 * (`scripts/build-bundle --split`). */
const COMPOSE_CHUNK = /\/pkg\/split_compose_parts\.[0-9a-f]{16}\.wasm$/;
const composeChunk = (url) => COMPOSE_CHUNK.test(url.pathname);

test("the compose dialog's code loads after the page is interactive, and the click then needs no more", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  await signIn(page, env.server.baseUrl, "carol", "/agencies");
  const requested = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname));
  const chunk = page.waitForRequest((request) => composeChunk(new URL(request.url())));
  await page.goto(`${env.server.baseUrl}/agencies/summit-events`);
  await waitForHydration(page);
  const hydratedAt = await page.evaluate(() => performance.getEntriesByName("messaging:hydrated")[0].startTime);
  await (await chunk).response();
  const chunkAt = await page.evaluate(
    (chunk) => performance.getEntriesByType("resource").find((r) => new RegExp(chunk).test(r.name)).startTime,
    COMPOSE_CHUNK.source,
  );
  assert.ok(chunkAt >= hydratedAt, `the chunk (at ${chunkAt} ms) did not compete with the page's bundle (hydrated at ${hydratedAt} ms)`);

  const before = requested.length;
  await openModal(page);
  const wasm = requested.slice(before).filter((path) => path.endsWith(".wasm"));
  assert.deepEqual(wasm, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test("when the compose dialog's code cannot load, the button leads to the plain compose form", async () => {
  const failures = {
    "a lost connection": (route) => route.abort("internetdisconnected"),
    // A page of the build before a deploy asks for its own chunk, which is gone.
    "a chunk of an earlier build": (route) => route.fulfill({ status: 404, body: "Not Found" }),
    // Given up after the check's timeout (10 s), as the check itself would be.
    "a request that stalls": () => new Promise(() => {}),
  };
  for (const [what, fail] of Object.entries(failures)) {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.route(composeChunk, fail);
    await signIn(page, env.server.baseUrl, "carol", "/agencies/blue-harbor");
    await page.getByRole("button", { name: "Send message" }).click();
    await page.waitForURL(/\/agencies\/blue-harbor\/message$/, { timeout: 15_000 }).catch(() => {
      assert.fail(`after ${what}, the button did not lead to the plain compose form`);
    });
    await page.getByRole("button", { name: "Send" }).waitFor();
    await context.close();
  }
});
