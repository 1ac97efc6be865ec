// Debian's Chromium driven by playwright-core (no browser download).
import { chromium } from "playwright-core";

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Resolves once the app's root effect has run, i.e. the page is hydrated. */
export async function waitForHydration(page) {
  await page.waitForSelector("html[data-hydrated='true']", { timeout: 30_000 });
}
