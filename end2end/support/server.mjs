// Starts the real server binary on a free loopback port, for one test file.
import { spawn } from "node:child_process";
import { after, before } from "node:test";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const repo = resolve(import.meta.dirname, "../..");
const targetDir = resolve(repo, process.env.CARGO_TARGET_DIR ?? "target");

function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
    probe.on("error", fail);
  });
}

/**
 * Starts a server binary (the demo's, or an example's) on a fresh data directory;
 * returns its base URL and a stop function.
 */
export async function startServer(env = {}, { binary = "server" } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "messaging-e2e-"));
  const child = spawn(join(targetDir, "debug", binary), [], {
    cwd: repo,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: join(repo, "target/site"),
      DATA_DIR: dataDir,
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      ...env,
    },
    stdio: ["ignore", "inherit", "pipe"],
  });
  // The server's log goes on to ours; a panic in it fails the suite even when the
  // request that caused it looked fine from the browser.
  const panics = [];
  child.stderr.on("data", (chunk) => {
    process.stderr.write(chunk);
    const text = chunk.toString();
    if (text.includes("panicked at")) panics.push(text.split("\n")[0]);
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHealth(baseUrl, child);
  return {
    baseUrl,
    dataDir,
    stop: async () => {
      await new Promise((done) => {
        child.once("exit", done);
        child.kill("SIGTERM");
      });
      rmSync(dataDir, { recursive: true, force: true });
      if (panics.length > 0) throw new Error(`the server panicked: ${panics.join("; ")}`);
    },
  };
}

async function waitForHealth(baseUrl, child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${baseUrl}/healthz`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become healthy within 60 s");
}

/**
 * Registers before/after hooks that start a fresh server and a browser for the calling
 * test file; returns an object whose `server` and `browser` are set once they run.
 */
export function withServerAndBrowser(launchBrowser) {
  const env = {};
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}
