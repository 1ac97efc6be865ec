// Time to interactive: from navigation start to the page's hydration mark (the moment
// the Send message button reacts to clicks), in headless Chromium. Used by the
// end-to-end suite's report and by the benchmark (`node support/tti.mjs BASE_URL`).
import { pathToFileURL } from "node:url";
import { launchBrowser } from "./browser.mjs";
import { apiAs, signIn } from "./app.mjs";

// The page's own record of the mark, kept from its first moment. Playwright's waits
// (`waitForSelector` and the like) evaluate its injected script in the page and poll it
// every frame: on the phone profile that ran on the page's 4x slower main thread while
// the page started, and put about 30 ms into the median measured (and 140 into the
// slowest runs). Reading the mark through this promise, once, costs the page nothing.
const WATCH_FOR_THE_MARK = `window.__messagingHydrated = new Promise((resolve) => {
  new PerformanceObserver((list, observer) => {
    const mark = list.getEntriesByName("messaging:hydrated")[0];
    if (mark) {
      observer.disconnect();
      resolve(mark.startTime);
    }
  }).observe({ type: "mark", buffered: true });
});`;

/** Watches every page of `context` for the hydration mark: see `hydratedAt`. */
async function watchForTheMark(context) {
  await context.addInitScript(WATCH_FOR_THE_MARK);
  return context;
}

/** The time of the loaded page's hydration mark, once it is set (within 30 s). */
async function hydratedAt(context, page) {
  const cdp = await context.newCDPSession(page);
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${page.url()} was not hydrated within 30 s`)), 30_000);
  });
  try {
    const read = cdp.send("Runtime.evaluate", { expression: "window.__messagingHydrated", awaitPromise: true, returnByValue: true });
    const { result, exceptionDetails } = await Promise.race([read, late]);
    if (exceptionDetails || typeof result.value !== "number") {
      throw new Error(`${page.url()}: no hydration mark (${exceptionDetails?.text ?? result.type})`);
    }
    return result.value;
  } finally {
    clearTimeout(timer);
    await cdp.detach();
  }
}

/** The median and spread over `runs` loads of an agency page, signed in as bob. */
export async function measureTimeToInteractive(browser, baseUrl, runs = 7) {
  const context = await watchForTheMark(await browser.newContext());
  const page = await context.newPage();
  await signIn(page, baseUrl, "bob", "/agencies/northwind");
  const samples = [];
  for (let run = 0; run < runs; run++) {
    await page.goto(`${baseUrl}/agencies/northwind`);
    samples.push(await hydratedAt(context, page));
    await page.getByRole("button", { name: "Send message" }).waitFor();
  }
  await context.close();
  samples.sort((a, b) => a - b);
  return {
    what: "navigation start to a hydrated Send message button (agency page, signed in), headless Chromium, loopback",
    runs,
    median_ms: Math.round(samples[Math.floor(runs / 2)]),
    min_ms: Math.round(samples[0]),
    max_ms: Math.round(samples.at(-1)),
  };
}

// Chrome DevTools' "Slow 4G" as the performance issue states it, and a CPU 4x slower:
// a mid-range phone on a poor network.
const SLOW_4G = { offline: false, latency: 150, downloadThroughput: 1_600_000 / 8, uploadThroughput: 750_000 / 8 };
const CPU_SLOWDOWN = 4;

/** Time to interactive of `path` on the phone profile, cold cache, signed in through
 * `session` (a session token): the median and spread of `runs` loads. */
async function onAPhone(browser, baseUrl, path, session, runs) {
  const samples = [];
  for (let run = 0; run < runs; run++) {
    const context = await watchForTheMark(await browser.newContext());
    await context.addCookies([{ name: "session", value: session, url: baseUrl }]);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    await cdp.send("Network.emulateNetworkConditions", SLOW_4G);
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
    await page.goto(`${baseUrl}${path}`);
    samples.push(await hydratedAt(context, page));
    await context.close();
  }
  samples.sort((a, b) => a - b);
  return {
    runs,
    median_ms: Math.round(samples[Math.floor(runs / 2)]),
    min_ms: Math.round(samples[0]),
    max_ms: Math.round(samples.at(-1)),
  };
}

/** The agency page (button and dialog) and a conversation page on a phone, 5 cold loads each. */
export async function measurePhoneTimeToInteractive(browser, baseUrl, runs = 5) {
  const alice = await apiAs(baseUrl, "alice");
  const agency = await alice.agency("northwind");
  const created = await alice.post(
    "/api/messages/conversations",
    { context_type: "agency_inquiry", context_id: agency.id, initial_message: { text: "Hello", local_id: "tti-0" } },
    { "Idempotency-Key": "tti-conversation" },
  );
  const session = alice.token;
  return {
    what: "navigation start to hydrated islands, cold cache, Slow 4G (150 ms, 1.6 Mbps down, 750 kbps up) and CPU 4x slower, headless Chromium, signed in",
    agency: await onAPhone(browser, baseUrl, "/agencies/northwind", session, runs),
    conversation: await onAPhone(browser, baseUrl, `/conversations/${created.body.conversation.id}`, session, runs),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const browser = await launchBrowser();
  try {
    const desktop = await measureTimeToInteractive(browser, process.argv[2]);
    const phone = await measurePhoneTimeToInteractive(browser, process.argv[2]);
    console.log(JSON.stringify({ ...desktop, phone }));
  } finally {
    await browser.close();
  }
}
