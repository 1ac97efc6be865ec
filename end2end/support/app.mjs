// Steps and checks shared by the scenarios: signing in through the real form, and
// reading the database's view of things through the real API with a user's token.
import assert from "node:assert/strict";
import { waitForHydration } from "./browser.mjs";

export const PASSWORD = "demo-password";

/** Signs in through the sign-in form and lands on `next`. Works with JavaScript off too. */
export async function signIn(page, baseUrl, username, next = "/agencies", { hydrated = true } = {}) {
  await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(next)}`);
  if (hydrated) await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === next);
  if (hydrated) await waitForHydration(page);
}

/** The API as `username` sees it, outside any browser. */
export async function apiAs(baseUrl, username) {
  return api(baseUrl, username, await tokenOf(baseUrl, username));
}

// One API session per user and server: sign-ins are rate limited (5 a minute per name).
const tokens = new Map();

async function tokenOf(baseUrl, username) {
  const cacheKey = `${baseUrl} ${username}`;
  if (!tokens.has(cacheKey)) tokens.set(cacheKey, await signInThroughApi(baseUrl, username));
  return tokens.get(cacheKey);
}

async function signInThroughApi(baseUrl, username) {
  const session = await fetch(`${baseUrl}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(session.status, 200, "sign-in through the API");
  return (await session.json()).token;
}

function api(baseUrl, username, token) {
  const call = async (method, path, body, headers = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  return {
    /** The session token, for a browser context's `session` cookie. */
    token,
    get: (path) => call("GET", path),
    post: (path, body, headers) => call("POST", path, body, headers),
    /** Every conversation of this user. */
    conversations: async () => (await call("GET", "/api/messages/conversations?limit=200")).body.items,
    /** Every message of a conversation, oldest first. */
    messages: async (id) => (await call("GET", `/api/messages/conversations/${id}/messages?limit=200`)).body.items,
    agency: async (slug) => (await call("GET", `/api/agencies/${slug}`)).body,
    /** Starts a conversation with the agency `slug` by its first message; its id. */
    contact: async (slug, text, localId = crypto.randomUUID()) => {
      const agency = (await call("GET", `/api/agencies/${slug}`)).body;
      const created = await call(
        "POST",
        "/api/messages/conversations",
        { context_type: "agency_inquiry", context_id: agency.id, initial_message: { text, local_id: localId } },
        { "Idempotency-Key": crypto.randomUUID() },
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.conversation.id;
    },
  };
}

/**
 * The exactly-once check every scenario ends with: `user` has exactly one conversation
 * with `agencySlug`, holding exactly the `texts` given, each once, in that order.
 */
export async function assertExactlyOnce(api, agencySlug, texts, { anyOrder = false } = {}) {
  const agency = await api.agency(agencySlug);
  const conversations = (await api.conversations()).filter((c) => c.context_id === agency.id);
  assert.equal(conversations.length, 1, "exactly one conversation with the agency");
  const messages = await api.messages(conversations[0].id);
  const stored = messages.map((m) => m.text);
  assert.deepEqual(
    anyOrder ? stored.toSorted() : stored,
    anyOrder ? texts.toSorted() : texts,
    "each message stored exactly once",
  );
  const localIds = messages.map((m) => m.local_id);
  assert.equal(new Set(localIds).size, localIds.length, "local_ids are unique");
  return { conversation: conversations[0], messages };
}

/** The texts of the messages shown on a conversation page, in order. */
export async function shownTexts(page) {
  return page.locator("li.message .message__text").allTextContents();
}

/** The texts of the messages the person can see in the list's scrolling box, in order. */
export async function inView(page) {
  return page.locator(".conversation__messages").evaluate((box) => {
    const shown = box.getBoundingClientRect();
    return [...box.querySelectorAll("li.message")]
      .filter((li) => {
        const at = li.getBoundingClientRect();
        return at.bottom > shown.top && at.top < shown.bottom;
      })
      .map((li) => li.querySelector(".message__text").textContent);
  });
}

/** The message whose text is exactly `text`. */
export function messageNamed(page, text) {
  return page.locator("li.message").filter({ has: page.getByText(text, { exact: true }) });
}

/**
 * Collects uncaught page errors, Content-Security-Policy violations and islands missing
 * from the page's bundle, to assert there were none. Chromium logs every violation to
 * the console, with JavaScript on or off; Leptos warns there of an island it cannot find.
 */
export function pageErrors(page) {
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (/Content Security Policy|Could not find WASM function/i.test(message.text())) {
      errors.push(message.text());
    }
  });
  return errors;
}
