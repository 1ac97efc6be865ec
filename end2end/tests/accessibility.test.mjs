// axe-core on every page (0 violations), and a keyboard-only walk through the compose
// dialog checking the WAI-ARIA modal dialog pattern.
import { test } from "node:test";
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { apiAs, pageErrors, signIn } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

async function assertNoViolations(page, what) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const summary = violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(summary, [], `axe violations on ${what}`);
}

test("every page has no axe violations and breaks no Content-Security-Policy, signed out and signed in", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  const base = env.server.baseUrl;
  for (const path of ["/", "/sign-in", "/agencies", "/agencies/northwind", "/no-such-page"]) {
    await page.goto(`${base}${path}`);
    await waitForHydration(page);
    await assertNoViolations(page, `${path} (signed out)`);
  }

  const api = await apiAs(base, "alice");
  const agency = await api.agency("blue-harbor");
  const created = await api.post(
    "/api/messages/conversations",
    { context_type: "agency_inquiry", context_id: agency.id, initial_message: { text: "Hello", local_id: "a11y" } },
    { "Idempotency-Key": crypto.randomUUID() },
  );
  await signIn(page, base, "alice", "/agencies/northwind");
  for (const path of [
    "/agencies",
    "/agencies/northwind",
    "/agencies/northwind/message",
    "/conversations",
    `/conversations/${created.body.conversation.id}`,
  ]) {
    await page.goto(`${base}${path}`);
    await waitForHydration(page);
    await assertNoViolations(page, `${path} (signed in)`);
  }

  // The open dialog, and a message that failed to send.
  await page.goto(`${base}/agencies/northwind`);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Send message" }).click();
  await page.getByRole("dialog").waitFor();
  await assertNoViolations(page, "the compose dialog");

  await page.goto(`${base}/conversations/${created.body.conversation.id}`);
  await waitForHydration(page);
  await context.route("**/api/chat", (route) => route.abort("internetdisconnected"));
  await page.getByPlaceholder("Write a message…").fill("Not yet sent");
  await page.getByPlaceholder("Write a message…").press("Enter");
  await page.locator("[data-delivery=failed]").waitFor();
  await assertNoViolations(page, "a conversation with a failed message");
  assert.deepEqual(errors, []);
  await context.close();
});

test("the compose dialog works with the keyboard alone, as the WAI-ARIA dialog pattern says", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await signIn(page, env.server.baseUrl, "bob", "/agencies/northwind");
  const focused = () =>
    page.evaluate(() => {
      const active = document.activeElement;
      return {
        inDialog: Boolean(active?.closest("dialog")),
        text: active?.textContent?.trim() ?? "",
        name: active?.getAttribute("aria-label") ?? active?.getAttribute("name") ?? "",
      };
    });

  // Tab to the button and open the dialog with Enter.
  for (let presses = 0; (await focused()).text !== "Send message"; presses++) {
    assert.ok(presses < 30, "the Send message button is reachable with Tab");
    await page.keyboard.press("Tab");
  }
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Message Northwind Travel" });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute("aria-labelledby") !== null, true, "labelled by its title");

  // Focus moved into the dialog, onto the message field, and stays in the dialog
  // however far one tabs, both ways.
  assert.ok((await focused()).inDialog, "focus moves into the dialog");
  assert.equal((await focused()).name, "text", "focus starts in the message field");
  for (const key of ["Tab", "Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    assert.ok((await focused()).inDialog, `focus stays in the dialog after ${key}`);
  }
  // The page behind is inert.
  assert.equal(
    await page.evaluate(() => document.querySelector(".site-header a").matches(":modal, :focus")),
    false,
  );
  // The visible close button closes it too.
  assert.ok(await dialog.getByRole("button", { name: "Close" }).isVisible());

  // Escape closes it and focus returns to the button.
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal((await focused()).text, "Send message", "focus returns to the button");

  // Typing and sending with the keyboard alone.
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await page.keyboard.type("Typed without a mouse");
  for (let presses = 0; (await focused()).text !== "Send"; presses++) {
    assert.ok(presses < 10, "Send is reachable with Tab");
    await page.keyboard.press("Tab");
  }
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
  await context.close();
});
