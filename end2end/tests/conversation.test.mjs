// Chatting inside a conversation against the real server: the outbox across a reload
// and a lost network, live replies from the other side, and two tabs sharing one outbox.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withServerAndBrowser } from "../support/server.mjs";
import { launchBrowser, waitForHydration } from "../support/browser.mjs";
import { apiAs, assertExactlyOnce, inView, messageNamed, pageErrors, shownTexts, signIn } from "../support/app.mjs";

const env = withServerAndBrowser(launchBrowser);

/** `user` contacts `slug` through the API; returns the API client and the conversation id. */
async function startConversation(user, slug, text) {
  const api = await apiAs(env.server.baseUrl, user);
  return { api, id: await api.contact(slug, text) };
}

async function openConversation(user, id) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  await signIn(page, env.server.baseUrl, user, `/conversations/${id}`);
  return { context, page, errors };
}

const composer = (page) => page.getByPlaceholder("Write a message…");

/** A conversation's live stream, with or without the `after` it was opened with. */
const isStream = (url) => /\/stream(\?|$)/.test(typeof url === "string" ? url : url.toString());

/** Going offline and back fires the browser's `online` event. */
async function networkComesBack(context) {
  await context.setOffline(true);
  await context.setOffline(false);
}

test("6. a message sent offline survives a reload and is delivered and shown once", async () => {
  const { api, id } = await startConversation("alice", "northwind", "Hello Northwind");
  const { context, page, errors } = await openConversation("alice", id);

  // The API is unreachable (the page itself still loads, so it can be reloaded).
  await context.route("**/api/chat", (route) => route.abort("internetdisconnected"));
  await composer(page).fill("Written in a tunnel");
  await composer(page).press("Enter");
  await page.locator("[data-delivery=failed]").waitFor();
  assert.equal(await composer(page).inputValue(), "", "the composer is free for the next message");

  await page.reload();
  await waitForHydration(page);
  await page.locator("li.message", { hasText: "Written in a tunnel" }).waitFor();
  assert.deepEqual(await shownTexts(page), ["Hello Northwind", "Written in a tunnel"]);

  await context.unroute("**/api/chat");
  await networkComesBack(context);
  await page.locator("li.message[data-delivery=sent]", { hasText: "Written in a tunnel" }).waitFor();
  assert.deepEqual(await shownTexts(page), ["Hello Northwind", "Written in a tunnel"]);
  await assertExactlyOnce(api, "northwind", ["Hello Northwind", "Written in a tunnel"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("7. the other participant's reply arrives live while the user is typing", async () => {
  const { api, id } = await startConversation("alice", "blue-harbor", "Any boats in May?");
  const { context, page, errors } = await openConversation("alice", id);
  await composer(page).fill("Also, do you");

  const dave = await apiAs(env.server.baseUrl, "dave");
  const reply = await dave.post("/api/chat", { conversation_id: id, text: "Yes, plenty!", local_id: crypto.randomUUID() });
  assert.equal(reply.status, 202);

  const shown = page.locator("li.message", { hasText: "Yes, plenty!" });
  await shown.waitFor();
  assert.equal(await shown.count(), 1);
  assert.equal(await shown.getAttribute("class"), "message", "shown as someone else's message");
  assert.equal(await composer(page).inputValue(), "Also, do you", "the draft is untouched");

  await composer(page).fill("Also, do you rent kayaks?");
  await composer(page).press("Enter");
  await page.locator("li.message[data-delivery=sent]", { hasText: "kayaks" }).waitFor();
  await assertExactlyOnce(api, "blue-harbor", ["Any boats in May?", "Yes, plenty!", "Also, do you rent kayaks?"]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a live stream refused three times (502) says it is reconnecting, then a later reply appears live", async () => {
  const { id } = await startConversation("dave", "northwind", "Is the loft free in June?");
  const context = await env.browser.newContext();
  // Refused as while the server restarts behind a proxy: an EventSource gives up for
  // good on such an answer, so the view itself must open the stream again.
  let refusals = 0;
  await context.route(isStream, (route) => {
    if (refusals >= 3) return route.continue();
    refusals += 1;
    return route.fulfill({ status: 502, contentType: "text/plain", body: "Bad gateway" });
  });
  const page = await context.newPage();
  const errors = pageErrors(page);
  const reopened = page.waitForResponse((r) => isStream(r.url()) && r.status() === 200);
  await signIn(page, env.server.baseUrl, "dave", `/conversations/${id}`);
  await page.getByRole("status").filter({ hasText: "Reconnecting…" }).waitFor();
  await reopened;
  await page.getByRole("status").filter({ hasText: "Reconnecting…" }).waitFor({ state: "detached" });
  assert.equal(refusals, 3);

  const carol = await apiAs(env.server.baseUrl, "carol");
  const reply = await carol.post("/api/chat", { conversation_id: id, text: "Yes, it is free.", local_id: crypto.randomUUID() });
  assert.equal(reply.status, 202);
  await page.locator("li.message", { hasText: "Yes, it is free." }).waitFor({ timeout: 5_000 });
  assert.deepEqual(await shownTexts(page), ["Is the loft free in June?", "Yes, it is free."]);
  assert.deepEqual(errors, []);
  await context.close();
});

test("signing out elsewhere ends the live conversation, and the page goes to sign in", async () => {
  const { id } = await startConversation("carol", "blue-harbor", "A boat for two?");
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  const streaming = page.waitForResponse((r) => isStream(r.url()) && r.status() === 200);
  await signIn(page, env.server.baseUrl, "carol", `/conversations/${id}`);
  await streaming;

  const session = (await context.cookies()).find((cookie) => cookie.name === "session").value;
  const out = await fetch(`${env.server.baseUrl}/api/session`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${session}` },
  });
  assert.equal(out.status, 204);
  await page.waitForURL((url) => url.pathname === "/sign-in" && url.searchParams.get("next") === `/conversations/${id}`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("older messages load in place above the first shown, and the reading position stays", async () => {
  const { api, id } = await startConversation("carol", "summit-events", "msg-1");
  for (let n = 2; n <= 205; n++) {
    const sent = await api.post("/api/chat", { conversation_id: id, text: `msg-${n}`, local_id: `history-${n}` });
    assert.equal(sent.status, 202);
  }
  const { context, page, errors } = await openConversation("carol", id);
  const texts = await shownTexts(page);
  assert.equal(texts.length, 200, "the newest 200");
  assert.equal(texts[0], "msg-6");
  assert.ok((await inView(page)).includes("msg-205"), "it opens at the newest message");
  // Where the reader is: a message in the middle stays where it was in the list's box.
  const scroller = page.locator(".conversation__messages");
  await scroller.evaluate((box) => { box.scrollBy(0, -(box.scrollHeight - box.clientHeight) / 2); });
  const topOf = (text) => messageNamed(page, text).evaluate(
    (li) => li.getBoundingClientRect().top - li.closest(".conversation__messages").getBoundingClientRect().top,
  );
  const reading = (await inView(page))[0];
  const before = await topOf(reading);
  await page.getByRole("link", { name: "Older messages" }).click();
  await page.locator("li.message .message__text", { hasText: /^msg-1$/ }).waitFor();
  await page.waitForFunction(() => !document.querySelector(".conversation__older"));
  const after = await topOf(reading);
  assert.ok(Math.abs(after - before) <= 2, `the reading position stayed (${reading}: ${before} → ${after} px)`);
  assert.equal(new URL(page.url()).search, "", "loaded in place, not by following the link");
  const all = await shownTexts(page);
  assert.deepEqual(all, Array.from({ length: 205 }, (_, i) => `msg-${i + 1}`));
  assert.equal(await page.getByRole("link", { name: "Older messages" }).count(), 0, "nothing older");
  // Still reading in the middle, the person sends: the view goes to the end.
  await composer(page).fill("msg-206");
  await composer(page).press("Enter");
  await messageNamed(page, "msg-206").waitFor();
  for (let tries = 0; !(await inView(page)).includes("msg-206"); tries++) {
    assert.ok(tries < 40, "the new message comes into view");
    await page.waitForTimeout(50);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("scrolling to the top of the list brings the older messages by themselves", async () => {
  const { api, id } = await startConversation("bob", "blue-harbor", "old-1");
  for (let n = 2; n <= 203; n++) {
    const sent = await api.post("/api/chat", { conversation_id: id, text: `old-${n}`, local_id: `scroll-${n}` });
    assert.equal(sent.status, 202);
  }
  const { context, page, errors } = await openConversation("bob", id);
  assert.equal((await shownTexts(page))[0], "old-4");
  const toTheTop = () => page.locator(".conversation__messages").evaluate((box) => { box.scrollBy(0, -box.scrollHeight); });
  await toTheTop();
  await page.locator("li.message .message__text", { hasText: /^old-1$/ }).waitFor();
  assert.equal((await shownTexts(page)).length, 203);

  // A reply from the other side while Bob reads the oldest: it arrives, and he stays there.
  await toTheTop();
  const topOf = () => messageNamed(page, "old-1").evaluate(
    (li) => li.getBoundingClientRect().top - li.closest(".conversation__messages").getBoundingClientRect().top,
  );
  const before = await topOf();
  const dave = await apiAs(env.server.baseUrl, "dave");
  const reply = await dave.post("/api/chat", { conversation_id: id, text: "A reply", local_id: crypto.randomUUID() });
  assert.equal(reply.status, 202);
  await messageNamed(page, "A reply").waitFor();
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const after = await topOf();
  assert.ok(Math.abs(after - before) <= 2, `still reading the oldest (${before} → ${after} px)`);
  assert.deepEqual(errors, []);
  await context.close();
});

test("two tabs share one outbox: an unsent message is stored once, whichever tab sends it", async () => {
  const { api, id } = await startConversation("bob", "northwind", "Hi from Bob");
  const { context, page: first, errors } = await openConversation("bob", id);
  const second = await context.newPage();
  const secondErrors = pageErrors(second);
  await second.goto(`${env.server.baseUrl}/conversations/${id}`);
  await waitForHydration(second);

  let blocked = true;
  const answers = []; // whether each delivered send was replayed
  await context.route("**/api/chat", async (route) => {
    if (blocked) return route.abort("internetdisconnected");
    const response = await route.fetch();
    answers.push(response.headers()["idempotent-replayed"] === "true");
    return route.fulfill({ response });
  });
  await composer(first).fill("Queued while the network was down");
  await composer(first).press("Enter");
  await first.locator("[data-delivery=failed]").waitFor();
  // The other tab sees the unsent message through the shared storage.
  await second.locator("li.message", { hasText: "Queued while" }).waitFor();

  blocked = false;
  await networkComesBack(context); // both tabs wake up and want to send
  for (const page of [first, second]) {
    await page.locator("li.message[data-delivery=sent]", { hasText: "Queued while" }).waitFor();
  }
  // The tabs take turns (a Web Lock); the second usually finds the outbox empty, but
  // localStorage reaches another tab's process a moment late, so it may send the
  // message again: the server then replays its answer instead of storing a copy.
  assert.ok(answers.length >= 1 && answers.length <= 2, `sent ${answers.length} times`);
  assert.equal(answers[0], false, "the first delivered send stored it");
  assert.deepEqual(answers.slice(1), answers.slice(1).map(() => true), "any second send was a replay");
  for (const page of [first, second]) {
    assert.deepEqual(await shownTexts(page), ["Hi from Bob", "Queued while the network was down"]);
  }
  await assertExactlyOnce(api, "northwind", ["Hi from Bob", "Queued while the network was down"]);
  assert.deepEqual([...errors, ...secondErrors], []);
  await context.close();
});

test("two tabs writing 100 messages while one of them sends and removes them: each stored once, none left behind", async () => {
  const { api, id } = await startConversation("alice", "summit-events", "round-0");
  const { context, page: first, errors } = await openConversation("alice", id);
  const second = await context.newPage();
  const secondErrors = pageErrors(second);
  await second.goto(`${env.server.baseUrl}/conversations/${id}`);
  await waitForHydration(second);

  // The tabs take turns writing, without waiting for anything to be sent: every write
  // lands while the sending tab is removing confirmed messages from the same outbox.
  const texts = [];
  for (let round = 1; round <= 100; round++) {
    const page = round % 2 ? first : second;
    const text = `round-${round}`;
    texts.push(text);
    await composer(page).fill(text);
    await composer(page).press("Enter");
  }
  for (const page of [first, second]) {
    await page.waitForFunction(
      (count) => document.querySelectorAll("li.message[data-delivery=sent]").length === count,
      101,
      { timeout: 60_000 },
    );
  }
  await assertExactlyOnce(api, "summit-events", ["round-0", ...texts], { anyOrder: true });
  const left = await first.evaluate(() =>
    Object.keys(localStorage).filter((key) => key.startsWith("messaging.outbox.v2.")).length);
  assert.equal(left, 0, "nothing left in the outbox");
  assert.deepEqual([...errors, ...secondErrors], []);
  await context.close();
});

test("unsent messages are counted in the header of every page, and signing out asks before it discards them", async () => {
  const { id } = await startConversation("dave", "summit-events", "Hello from Dave");
  const { context, page, errors } = await openConversation("dave", id);
  await context.route("**/api/chat", (route) => route.abort("internetdisconnected"));
  await composer(page).fill("Not sent yet");
  await composer(page).press("Enter");
  await page.locator("[data-delivery=failed]").waitFor();
  const unsent = page.locator(".unsent-messages");
  await unsent.waitFor();
  assert.equal(await unsent.textContent(), "1 message not sent yet");

  // Elsewhere in the app the count stays, and leads back to where the message waits.
  await page.goto(`${env.server.baseUrl}/agencies`);
  await waitForHydration(page);
  assert.equal(await unsent.textContent(), "1 message not sent yet");
  assert.equal(await unsent.getAttribute("href"), `/conversations/${id}`);

  // Saying no keeps the person signed in and the message kept.
  const signOut = page.getByRole("button", { name: "Sign out" });
  let asked = "";
  page.once("dialog", (dialog) => {
    asked = dialog.message();
    dialog.dismiss();
  });
  await signOut.click();
  assert.match(asked, /^1 of your messages are not sent yet/);
  assert.equal(new URL(page.url()).pathname, "/agencies");
  assert.equal(await unsent.textContent(), "1 message not sent yet");

  // Saying yes signs out and leaves nothing of theirs in the browser: not even an entry
  // under their outbox's keys that no version of the app can read.
  await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("messaging.outbox.v2."));
    localStorage.setItem(`${key.slice(0, key.lastIndexOf(".") + 1)}unreadable`, "{not json");
  });
  page.once("dialog", (dialog) => dialog.accept());
  await signOut.click();
  await page.getByRole("link", { name: "Sign in" }).waitFor();
  const left = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("messaging.outbox")));
  assert.deepEqual(left, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a conversation page, the home page and the other pages each load a bundle of their own", async () => {
  const { id } = await startConversation("carol", "northwind", "Which bundle?");
  const { context, page, errors } = await openConversation("carol", id);
  const loaded = [];
  page.on("request", (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.endsWith(".wasm")) loaded.push(pathname);
  });
  await page.reload();
  await waitForHydration(page);
  await composer(page).fill("Sent from the conversation's own bundle");
  await composer(page).press("Enter");
  await page.locator("[data-delivery=sent]").last().waitFor();
  await page.goto(`${env.server.baseUrl}/agencies/northwind`);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Send message" }).waitFor();
  await page.goto(`${env.server.baseUrl}/`);
  await waitForHydration(page);
  // (The agency page's compose dialog is a chunk of its own: see faults.test.mjs.)
  const bundles = loaded.filter((path) => path.endsWith("_bg.wasm"));
  assert.deepEqual(
    [...new Set(bundles)],
    ["/pkg/messaging-conversation_bg.wasm", "/pkg/messaging_bg.wasm", "/pkg/messaging-home_bg.wasm"],
  );
  assert.deepEqual(errors, []);
  await context.close();
});

test("message text is shown as text, never run as HTML", async () => {
  const hostile = `<img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>`;
  const { api, id } = await startConversation("bob", "summit-events", hostile);
  const { context, page, errors } = await openConversation("bob", id);
  // Server-rendered and hydrated, then the same text arriving live.
  await api.post("/api/chat", { conversation_id: id, text: `${hostile} again`, local_id: crypto.randomUUID() });
  await page.locator("li.message", { hasText: "again" }).waitFor();
  assert.deepEqual(await shownTexts(page), [hostile, `${hostile} again`]);
  assert.equal(await page.locator("li.message img, li.message script").count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the unsent messages of a conversation that cannot be opened any more are listed in its place, to discard", async () => {
  const me = (await (await apiAs(env.server.baseUrl, "bob")).get("/api/session")).body;
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  await signIn(page, env.server.baseUrl, "bob", "/agencies");

  // A message the server refused, of a conversation that is gone: nothing can open it now.
  const gone = "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f";
  await page.evaluate(({ user, gone }) => {
    const localId = crypto.randomUUID();
    localStorage.setItem(`messaging.outbox.v2.${user}.${localId}`, JSON.stringify({
      conversation_id: gone, local_id: localId, text: "Written before it went", user_agent: null,
      attempts: 1, last_error: "No such conversation here.", refused: true, written_at: Date.now(),
    }));
  }, { user: me.id, gone });
  await page.reload();
  await waitForHydration(page);

  // The header's count leads to where it would be, which lists it.
  await page.locator(".unsent-messages").click();
  await page.waitForURL(`**/conversations/${gone}`);
  await waitForHydration(page);
  await page.getByRole("heading", { name: "Conversation not found" }).waitFor();
  const listed = page.locator(".unsent-in .message__text");
  await listed.waitFor();
  assert.deepEqual(await listed.allTextContents(), ["Written before it went"]);

  await page.locator(".unsent-in").getByRole("button", { name: "Discard" }).click();
  await page.locator(".unsent-in").waitFor({ state: "detached" });
  await page.locator(".unsent-messages").waitFor({ state: "detached" });
  const left = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("messaging.outbox")));
  assert.deepEqual(left, []);
  assert.deepEqual(errors, []);
  await context.close();
});
