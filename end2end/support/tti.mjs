// Time to interactive: from navigation start to the page's hydration mark (the moment
// the Send message button reacts to clicks), in headless Chromium. Used by the
// end-to-end suite's report and by the benchmark (`node support/tti.mjs BASE_URL`).
import { pathToFileURL } from "node:url";
import { launchBrowser, waitForHydration } from "./browser.mjs";
import { signIn } from "./app.mjs";

/** The median and spread over `runs` loads of an agency page, signed in as bob. */
export async function measureTimeToInteractive(browser, baseUrl, runs = 7) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, baseUrl, "bob", "/agencies/northwind");
  const samples = [];
  for (let run = 0; run < runs; run++) {
    await page.goto(`${baseUrl}/agencies/northwind`);
    await waitForHydration(page);
    await page.getByRole("button", { name: "Send message" }).waitFor();
    samples.push(await page.evaluate(() => performance.getEntriesByName("messaging:hydrated")[0].startTime));
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

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const browser = await launchBrowser();
  try {
    console.log(JSON.stringify(await measureTimeToInteractive(browser, process.argv[2])));
  } finally {
    await browser.close();
  }
}
