// A signed-out visitor signs in from an agency's page, clicks Send message, writes and
// sends: one conversation with one message exists afterwards, and a second click on the
// button opens that conversation instead of the modal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { pageErrors } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

test("contacting an agency creates one conversation, and the button then opens it", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);

  await page.goto(`${env.server.baseUrl}/agencies/northwind`);
  await waitForHydration(page);
  await page.getByRole("link", { name: "Sign in to send a message" }).click();
  await page.waitForURL(/\/sign-in\?next=/);
  await waitForHydration(page);
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/agencies\/northwind$/);
  await waitForHydration(page);

  await page.getByRole("button", { name: "Send message" }).click();
  const dialog = page.getByRole("dialog", { name: "Message Northwind Travel" });
  await dialog.waitFor();
  await dialog.getByLabel("Your message").fill("Hello! Do you plan ski trips?");
  await dialog.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
  const conversationId = page.url().split("/").pop();
  await page.getByRole("heading", { name: "Northwind Travel" }).waitFor();
  const shown = page.getByRole("list", { name: "Messages" }).getByRole("listitem");
  await shown.filter({ hasText: "Hello! Do you plan ski trips?" }).waitFor();
  assert.equal(await shown.count(), 1);

  const list = await (await context.request.get(`${env.server.baseUrl}/api/messages/conversations`)).json();
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].id, conversationId);
  const messages = await (
    await context.request.get(`${env.server.baseUrl}/api/messages/conversations/${conversationId}/messages`)
  ).json();
  assert.deepEqual(
    messages.items.map((m) => m.text),
    ["Hello! Do you plan ski trips?"],
  );

  // The check now finds the conversation: no modal, straight to it.
  await page.goto(`${env.server.baseUrl}/agencies/northwind`);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Send message" }).click();
  await page.waitForURL(new RegExp(`/conversations/${conversationId}$`));
  assert.deepEqual(errors, []);
  await context.close();
});
