// Screenshots of the main pages on a phone and a desktop, and the time to interactive,
// measured for the suite's report. The suite keeps its screenshots under target/;
// `scripts/screenshots` runs this file with SCREENSHOTS_DIR=end2end/screenshots to
// refresh the README's.
import { test } from "node:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { apiAs, signIn } from "../support/app.mjs";
import { measureTimeToInteractive } from "../support/tti.mjs";

const env = withServerAndBrowser(launchBrowser);
const reportDir = resolve(import.meta.dirname, "../..", process.env.CARGO_TARGET_DIR ?? "target", "end2end");
const screenshots = process.env.SCREENSHOTS_DIR
  ? resolve(process.env.SCREENSHOTS_DIR)
  : join(reportDir, "screenshots");

const viewports = {
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 800 } },
};

test("screenshots of the agency page with the dialog, a conversation and the list", async () => {
  mkdirSync(screenshots, { recursive: true });
  const base = env.server.baseUrl;
  // Each size is one customer's view of a conversation with Northwind and its reply.
  const customers = { phone: "alice", desktop: "bob" };
  const carol = await apiAs(base, "carol");
  for (const [device, options] of Object.entries(viewports)) {
    const customer = await apiAs(base, customers[device]);
    const agency = await customer.agency("northwind");
    const created = await customer.post(
      "/api/messages/conversations",
      {
        context_type: "agency_inquiry",
        context_id: agency.id,
        initial_message: { text: "Hello! Do you organise ski trips in March?", local_id: "shot-1" },
      },
      { "Idempotency-Key": crypto.randomUUID(), "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)" },
    );
    const id = created.body.conversation.id;
    await carol.post("/api/chat", {
      conversation_id: id,
      text: "We do! Chamonix or Zermatt, a week each. How many people?",
      local_id: "shot-2",
      user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
    });

    const context = await env.browser.newContext(options);
    const page = await context.newPage();
    await signIn(page, base, customers[device], "/agencies/blue-harbor");
    await page.getByRole("button", { name: "Send message" }).click();
    await page.getByRole("dialog").getByLabel("Your message").fill("Hi! Can we rent a sailing boat for a weekend in June?");
    await page.screenshot({ path: join(screenshots, `compose-${device}.png`) });

    await page.goto(`${base}/conversations/${id}`);
    await waitForHydration(page);
    await context.route("**/api/chat", (route) => route.abort("internetdisconnected"));
    await page.getByPlaceholder("Write a message…").fill("Four of us, in Zermatt please.");
    await page.getByPlaceholder("Write a message…").press("Enter");
    await page.locator("[data-delivery=failed]").waitFor();
    await page.screenshot({ path: join(screenshots, `conversation-${device}.png`) });
    await context.unroute("**/api/chat");
    // The outbox also retries by itself, so a Retry button can vanish under the click (it
    // did, in CI); `online` wakes the same send loop without racing it.
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    await page.locator("li.message[data-delivery=sent]", { hasText: "Zermatt please" }).waitFor();

    await page.goto(`${base}/conversations`);
    await waitForHydration(page);
    await page.screenshot({ path: join(screenshots, `conversations-${device}.png`) });
    await context.close();
  }
});

test("time to interactive: navigation to a hydrated Send message button", async (t) => {
  const report = await measureTimeToInteractive(env.browser, env.server.baseUrl);
  t.diagnostic(`time to interactive: median ${report.median_ms} ms (min ${report.min_ms}, max ${report.max_ms}, ${report.runs} runs)`);
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, "report.json"), JSON.stringify({ time_to_interactive: report }, null, 2));
});
