// The page is rendered on the server, then hydrates and reacts to clicks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { apiAs, assertExactlyOnce, pageErrors, signIn } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

test("the home page is server-rendered HTML", async () => {
  const response = await fetch(`${env.server.baseUrl}/`);
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /<h1>Messages<\/h1>/);
  assert.match(html, /Make a key/);
  assert.match(html, /\/pkg\/messaging-home\.js/);
});

test("after hydration a click makes a key in the browser", async () => {
  const page = await env.browser.newPage();
  const errors = pageErrors(page);
  const started = performance.now();
  await page.goto(`${env.server.baseUrl}/`);
  await waitForHydration(page);
  console.log(`hydrated ${Math.round(performance.now() - started)} ms after navigation started`);

  const key = page.getByTestId("key");
  await assert.doesNotReject(key.filter({ hasText: "No key yet" }).waitFor());
  await page.getByRole("button", { name: "Make a key" }).click();
  await page.getByTestId("made").filter({ hasText: "1 made" }).waitFor();
  const first = await key.textContent();
  assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  await page.getByRole("button", { name: "Make a key" }).click();
  await page.getByTestId("made").filter({ hasText: "2 made" }).waitFor();
  assert.notEqual(await key.textContent(), first);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a conversation page brought back by Back is rendered anew: a message written there is stored, not refused", async () => {
  const api = await apiAs(env.server.baseUrl, "alice");
  const id = await api.contact("northwind", "First words");
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  await signIn(page, env.server.baseUrl, "alice", `/conversations/${id}`);
  const composer = page.getByPlaceholder("Write a message…");
  await composer.fill("Before leaving");
  await composer.press("Enter");
  await page.locator("li.message[data-delivery=sent]", { hasText: "Before leaving" }).waitFor();

  // A page the browser kept would come back with the local_id just used.
  await page.locator(".page__header").getByRole("link", { name: "Your conversations" }).click();
  await page.waitForURL((url) => url.pathname === "/conversations");
  await page.goBack();
  await waitForHydration(page);
  await composer.fill("After coming back");
  await composer.press("Enter");
  await page.locator("li.message[data-delivery=sent]", { hasText: "After coming back" }).waitFor();
  await assertExactlyOnce(api, "northwind", ["First words", "Before leaving", "After coming back"]);
  assert.deepEqual(errors, []);
  await context.close();
});
