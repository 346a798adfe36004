// End to end: the widget as site owners configure it and visitors around the world meet it:
// languages (Arabic right to left), the site's colour, side, icon and greeting, pre-chat
// fields, opening hours, a strict Content-Security-Policy, and a connection cut by the edge
// going down and coming back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import {
  Widget,
  axeViolations,
  codeSentTo,
  configureWidget,
  createSiteWithKey,
  launchBrowser,
  profileOf,
  startHostServer,
  startOwnEdge,
} from "./pages.mjs";

const OUTPUT = new URL("../../target/e2e/", import.meta.url);
const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");
const ARABIC = /[\u0600-\u06ff]/;
const JAPANESE = /[\u3040-\u30ff\u4e00-\u9faf]/;

let browser;
let hosts;
before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  browser = await launchBrowser();
  hosts = await startHostServer();
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
});
const page = (fixture, site, edge) => `${hosts.origin}/${fixture}?site=${site.id}${edge ? `&edge=${edge}` : ""}`;

/** A new browser context (a visitor's device) with `options`, on `url`, errors collected. */
async function visit(url, options = {}) {
  const context = await browser.newContext(options);
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(error.message));
  await tab.goto(url);
  return { context, tab, widget: new Widget(tab), errors };
}

test("the widget speaks the visitor's language: Arabic right to left, Japanese, and the site's own choice over the browser's", async () => {
  const site = await createSiteWithKey("i18n", [hosts.origin], ARTICLES);

  const arabic = await visit(page("plain", site), { locale: "ar-EG", viewport: { width: 1280, height: 800 } });
  const { tab, widget } = arabic;
  await widget.open();
  const app = widget.host.locator(".tl-app");
  assert.equal(await app.getAttribute("dir"), "rtl");
  assert.equal(await app.getAttribute("lang"), "ar");
  assert.match(await widget.host.locator(".tl-empty").textContent(), ARABIC);
  assert.match(await widget.panel.getAttribute("aria-label"), ARABIC);
  assert.match(await widget.input.getAttribute("placeholder"), ARABIC);
  await widget.ask("How do I reset my password?");
  // Mirrored: the visitor's bubble sits on the left, the bot's on the right.
  const mine = await widget.host.locator("li.tl-message[data-role=visitor] .tl-bubble").first().boundingBox();
  const bots = await widget.host.locator("li.tl-message[data-role=bot] .tl-bubble").first().boundingBox();
  assert.ok(mine.x < bots.x, `visitor ${JSON.stringify(mine)} should be left of bot ${JSON.stringify(bots)}`);
  // Times are written the Arabic way by the browser (Arabic-Indic digits in ar-EG).
  const time = await widget.host.locator("li.tl-message time").first().textContent();
  const expected = await tab.evaluate(() => new Date().toLocaleString("ar-EG", { hour: "numeric", minute: "2-digit" }));
  assert.ok(time.trim().length > 0 && time.slice(0, 2) === expected.slice(0, 2), `time: ${time}, expected like ${expected}`);
  assert.match(await widget.host.locator(".tl-feedback span").textContent(), ARABIC);
  assert.deepEqual(await axeViolations(tab), []);
  await tab.screenshot({ path: new URL("widget-rtl-ar.png", OUTPUT).pathname });
  assert.deepEqual(arabic.errors, []);
  await arabic.context.close();

  const japanese = await visit(page("plain", site), { locale: "ja-JP" });
  await japanese.widget.open();
  assert.equal(await japanese.widget.host.locator(".tl-app").getAttribute("dir"), "ltr");
  assert.match(await japanese.widget.host.locator(".tl-empty").textContent(), JAPANESE);
  await japanese.tab.screenshot({ path: new URL("widget-ja.png", OUTPUT).pathname });
  await japanese.context.close();

  // The site says Spanish: a German browser gets Spanish.
  await configureWidget(site, { locale: "es" });
  const spanish = await visit(page("plain", site), { locale: "de-DE" });
  await spanish.widget.open();
  assert.equal(await spanish.widget.host.locator(".tl-app").getAttribute("lang"), "es");
  assert.equal(await spanish.widget.input.getAttribute("placeholder"), "Haz una pregunta…");
  await spanish.context.close();
});

test("the site's look: colour (readable whatever it is), left side, launcher icon and greeting, drawn before the Wasm loads", async () => {
  const site = await createSiteWithKey("look", [hosts.origin], ARTICLES);
  const greeting = "Welcome to Amber & Co. <b>Ask away</b>";
  await configureWidget(site, { color: "#f59e0b", position: "left", launcher_icon: "help", greeting });
  const config = await (await fetch(`${process.env.THREADLINE_URL}/v1/sites/${site.id}/widget`, { headers: { Origin: hosts.origin } })).json();
  for (const scheme of ["light", "dark"]) {
    const context = await browser.newContext({ colorScheme: scheme });
    const tab = await context.newPage();
    const errors = [];
    tab.on("pageerror", (error) => errors.push(error.message));
    // Hold the Wasm back until the loader's launcher has been looked at.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await tab.route(/\.wasm$/, async (route) => (await held, route.continue()));
    await tab.goto(page("plain", site));
    const widget = new Widget(tab);
    // The loader's launcher already has the site's look.
    const placeholder = widget.host.locator(".tl-launcher");
    await placeholder.waitFor({ state: "visible" });
    await tab.waitForTimeout(100);
    assert.equal(await placeholder.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(245, 158, 11)", scheme);
    assert.ok((await placeholder.boundingBox()).x < 100, "on the left");
    assert.equal(await placeholder.locator("path").getAttribute("d"), config.launcher_path);
    release();
    await widget.ready();
    // And so does the widget's.
    assert.equal(await widget.launcher.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(245, 158, 11)", scheme);
    assert.ok((await widget.launcher.boundingBox()).x < 100, "on the left");
    assert.equal(await widget.launcher.locator("path").getAttribute("d"), config.launcher_path);
    await widget.open();
    const panel = await widget.panel.boundingBox();
    assert.ok(panel.x < 100, `panel on the left: ${JSON.stringify(panel)}`);
    const header = widget.host.locator(".tl-header");
    assert.equal(await header.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(245, 158, 11)");
    // Black text on amber (white would be 2.1:1).
    assert.equal(await header.evaluate((el) => getComputedStyle(el).color), "rgb(0, 0, 0)");
    // The greeting is the site's text, shown as text.
    assert.equal(await widget.host.locator(".tl-empty").textContent(), greeting);
    assert.equal(await widget.host.locator(".tl-empty b").count(), 0);
    await widget.ask("How do I reset my password?");
    assert.deepEqual(await axeViolations(tab), [], scheme);
    await tab.screenshot({ path: new URL(`widget-site-colour-${scheme}.png`, OUTPUT).pathname });
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("pre-chat fields are asked before the first message, checked, and kept on the visitor's profile", async () => {
  const site = await createSiteWithKey("prechat", [hosts.origin], ARTICLES);
  await configureWidget(site, {
    pre_chat: [
      { name: "order_id", label: "Order number", required: true },
      { name: "email", label: "Email", type: "email" },
    ],
  });
  const { context, tab, widget } = await visit(page("plain", site));
  await widget.open();
  const form = widget.host.locator(".tl-pre-chat");
  await form.waitFor({ state: "visible" });
  assert.equal(await widget.input.isVisible(), false, "no composer before the form is answered");
  // Focus went to the first field.
  assert.equal(await tab.evaluate(() => document.querySelector("[data-threadline]").shadowRoot.activeElement?.id), "tl-pre-0");
  await widget.host.locator("[data-action=start-chat]").click();
  assert.equal(await form.locator("[role=alert]").textContent(), "Please fill in Order number.");
  await form.locator("#tl-pre-0").fill("A-1001");
  await form.locator("#tl-pre-1").fill("not-an-address");
  await widget.host.locator("[data-action=start-chat]").click();
  assert.match(await form.locator("[role=alert]").textContent(), /email address like/);
  // Lowercased as the edge keeps addresses, and checked, beyond ASCII too (the widget uses the
  // browser's Unicode data: toLowerCase and a \p{Alphabetic} pattern).
  await form.locator("#tl-pre-1").fill("Pre.Élodie@Exämple.com");
  await widget.host.locator("[data-action=start-chat]").click();
  await form.waitFor({ state: "detached" });
  await widget.input.waitFor({ state: "visible" });
  // The address is offered for verification (a typed address proves nothing by itself).
  await widget.host.locator("[data-action=send-code]").waitFor({ state: "visible" });
  await widget.ask("How do I reset my password?");
  const visitor = await tab.evaluate((key) => JSON.parse(localStorage.getItem(key)).visitor_id, `threadline:${site.id}:session`);
  let profile;
  for (let i = 0; i < 50 && !profile?.traits?.order_id; i++) {
    profile = await profileOf(site, `session:${visitor}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(
    { order: profile.traits.order_id.value, verified: profile.traits.order_id.verified, email: profile.traits.email.value },
    { order: "A-1001", verified: false, email: "pre.élodie@exämple.com" },
  );
  // Answered once: a reload goes straight to the conversation.
  await tab.reload();
  await widget.open();
  await widget.input.waitFor({ state: "visible" });
  assert.equal(await widget.host.locator(".tl-pre-chat").count(), 0);
  await context.close();
});

test("when the team is away the widget says when it is back and offers to reply by email, verified by a code", async () => {
  const site = await createSiteWithKey("away", [hosts.origin], ARTICLES);
  // Open one hour, three days from now (UTC): away now, whatever the time.
  const day = new Date(Date.now() + 3 * 86_400_000);
  const name = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][day.getUTCDay()];
  await configureWidget(site, { hours: { time_zone: "UTC", weekly: [{ days: [name], from: "09:00", to: "10:00" }] } });
  const { context, tab, widget } = await visit(page("plain", site), { locale: "en-GB", timezoneId: "UTC" });
  await widget.open();
  const back = await tab.evaluate(
    (ms) => new Date(ms).toLocaleString("en-GB", { weekday: "long", hour: "numeric", minute: "2-digit" }),
    Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 9, 0),
  );
  const subtitle = widget.host.locator(".tl-subtitle");
  await subtitle.filter({ hasText: "Away" }).waitFor();
  assert.equal(await subtitle.textContent(), `Away, back on ${back}`);
  await widget.ask("Do you sell garden furniture?");
  await widget.host.locator(".tl-handoff", { hasText: "Talk to a person" }).click();
  const away = widget.host.locator("[data-state=away]");
  await away.waitFor({ state: "visible" });
  assert.ok((await away.textContent()).includes(`back on ${back}`));
  await away.locator("input").fill("nobody");
  await away.locator("[data-action=reply-by-email]").click();
  await away.locator("[role=alert]").waitFor();
  const address = `away-${Date.now()}@example.com`;
  await away.locator("input").fill(address);
  await away.locator("[data-action=reply-by-email]").click();
  // The code goes out at once; entering it makes the address the conversation's.
  await widget.host.locator(".tl-code").waitFor({ state: "visible" });
  await widget.host.locator(".tl-code").fill(await codeSentTo(address));
  await widget.host.locator("[data-action=verify-code]").click();
  await widget.host.locator(".tl-verified").waitFor({ state: "visible" });
  await context.close();
});

test("works under a strict Content-Security-Policy: only the site, our origin and 'wasm-unsafe-eval'", async () => {
  const site = await createSiteWithKey("csp", [hosts.origin], ARTICLES);
  await configureWidget(site, { color: "#0f766e" });
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const response = await tab.goto(page("strict", site));
  assert.match(response.headers()["content-security-policy"], /script-src 'self' http:\/\/127\.0\.0\.1:\d+ 'wasm-unsafe-eval'/);
  const widget = new Widget(tab);
  await widget.open();
  const reply = await widget.ask("How do I reset my password?");
  assert.match(await reply.textContent(), /password/i);
  // Styled (the site's colour and the panel's own sheet both applied) with no inline <style>.
  assert.equal(await widget.host.locator(".tl-header").evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(15, 118, 110)");
  assert.equal(await widget.panel.evaluate((el) => getComputedStyle(el).position), "fixed");
  assert.equal(await widget.host.locator("style").count(), 0);
  assert.deepEqual(await tab.evaluate(() => window.__violations), []);
  await context.close();
});

test("the edge is killed (SIGKILL) mid-conversation: the widget says so, keeps what the visitor writes, sends it once, in order, when the edge is back on the same state, and a reload shows everything acknowledged", async () => {
  const edge = startOwnEdge(8830);
  try {
    const site = await createSiteWithKey("reconnect", [hosts.origin], ARTICLES, edge.url);
    const { context, tab, widget, errors } = await visit(page("plain", site, edge.url));
    await widget.open();
    await widget.ask("How do I reset my password?");
    edge.crash();
    const subtitle = widget.host.locator(".tl-subtitle");
    await subtitle.filter({ hasText: "Reconnecting" }).waitFor({ timeout: 15_000 });
    for (const text of ["first while down", "second while down", "third while down"]) {
      await widget.input.fill(text);
      await widget.input.press("Enter");
    }
    assert.equal(await widget.host.locator("li.tl-pending").count(), 3, "queued, shown as pending");
    edge.restart();
    // Backoff reaches the edge again by itself (at most 30 s between attempts).
    await tab.waitForFunction(
      () => document.querySelector("[data-threadline]").shadowRoot.querySelectorAll("li.tl-pending").length === 0,
      null,
      { timeout: 45_000 },
    );
    const sent = (await widget.host.locator("li.tl-message[data-role=visitor] .tl-bubble").allTextContents()).filter((t) => t.includes("while down"));
    assert.deepEqual(sent, ["first while down", "second while down", "third while down"]);
    // And the edge stored each once, in that order.
    const token = await tab.evaluate((key) => JSON.parse(localStorage.getItem(key)).token, `threadline:${site.id}:session`);
    const transcript = await (await fetch(`${edge.url}/v1/sites/${site.id}/conversation`, { headers: { Authorization: `Bearer ${token}`, Origin: hosts.origin } })).json();
    const stored = transcript.messages.filter((m) => m.role === "visitor").map((m) => m.text);
    assert.deepEqual(stored, ["How do I reset my password?", "first while down", "second while down", "third while down"],
      "what was acknowledged before the SIGKILL is still stored, before the queue, each once");
    assert.ok(transcript.messages.some((m) => m.role === "bot" && m.reply_to === transcript.messages[0].id), "and its answer");
    await subtitle.filter({ hasNotText: "Reconnecting" }).waitFor();
    // A fresh load shows the whole conversation from the restarted edge.
    await tab.reload();
    const again = new Widget(tab);
    await again.open();
    await again.shows("How do I reset my password?");
    await again.shows("third while down");
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    edge.stop();
  }
});

test("two tabs of the same site show the same conversation, live, each message once", async () => {
  const site = await createSiteWithKey("tabs", [hosts.origin], ARTICLES);
  const context = await browser.newContext();
  const [first, second] = [await context.newPage(), await context.newPage()];
  await first.goto(page("plain", site));
  const one = new Widget(first);
  await one.open();
  await one.ask("How do I reset my password?");
  await second.goto(page("plain", site));
  const two = new Widget(second);
  await two.open();
  await two.shows("How do I reset my password?");
  await two.ask("Can I get a refund?");
  // The first tab hears the second's question and its answer without a reload.
  await one.shows("Can I get a refund?");
  await first.locator("[data-threadline] li.tl-message[data-role=bot]").nth(1).waitFor({ state: "visible" });
  const texts = async (tab) => tab.locator("[data-threadline] li.tl-message").evaluateAll((rows) => rows.map((r) => `${r.dataset.role}:${r.dataset.seq}`));
  assert.deepEqual(await texts(first), await texts(second));
  assert.equal(new Set(await texts(first)).size, (await texts(first)).length, "no message twice");
  await context.close();
});

test("hostile text from every source (article titles and bodies, a staff name and reply, a greeting, pre-chat labels) is shown as text and never runs", async () => {
  const EDGE_URL = process.env.THREADLINE_URL;
  const hostile = (n) => `<img src=x onerror="window.__pwned=${n}"><b>bold</b><script>window.__pwned=${n}</script>`;
  const articles = [
    { id: "refunds", title: `Refunds ${hostile(1)}`, body: `Money back in 5 days. ${hostile(2)}`, questions: ["can I get a refund", "refund please", "money back"] },
    { id: "shipping", title: "Shipping", body: "We ship worldwide.", questions: ["do you ship abroad", "shipping costs"] },
  ];
  const site = await createSiteWithKey("xss", [hosts.origin], articles.map((a) => JSON.stringify(a)).join("\n") + "\n");
  await configureWidget(site, { greeting: `Hi ${hostile(3)}`, pre_chat: [{ name: "order", label: `<img src=x onerror="window.__pwned=4">Order` }] });
  const call = async (key, method, path, body) => {
    const response = await fetch(`${EDGE_URL}/v1/sites/${site.id}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body && JSON.stringify(body),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status}`);
    return response.json();
  };
  const staffKey = (await call(site.adminKey, "POST", "/staff-keys", { name: `Priya ${hostile(5)}` })).key;

  const { context, tab, widget, errors } = await visit(page("plain", site));
  await widget.open();
  assert.equal(await widget.host.locator(".tl-empty").textContent(), `Hi ${hostile(3)}`);
  assert.ok((await widget.host.locator(".tl-pre-chat label").first().textContent()).includes(`<img src=x onerror="window.__pwned=4">Order`));
  await widget.host.locator("[data-action=start-chat]").click();
  const answer = await widget.ask("can I get a refund?");
  assert.ok((await answer.locator(".tl-bubble").textContent()).includes(hostile(2)));
  assert.ok((await answer.locator(".tl-source").textContent()).includes(`Refunds ${hostile(1)}`));
  await widget.ask("Do you sell garden furniture?");
  await widget.host.locator(".tl-handoff", { hasText: "Talk to a person" }).click();
  await widget.host.locator("li.tl-message[data-kind=handoff]").waitFor({ state: "visible" });
  const { queue } = await call(staffKey, "GET", "/queue");
  const conversation = queue[0].conversation;
  await call(staffKey, "POST", `/conversations/${conversation}/typing`);
  await widget.host.locator(".tl-typing").waitFor({ state: "visible" });
  assert.ok((await widget.host.locator(".tl-typing").textContent()).includes(`Priya ${hostile(5)}`));
  await call(staffKey, "POST", `/conversations/${conversation}/replies`, { id: "x1", text: `Sure ${hostile(6)}` });
  await widget.shows(`Sure ${hostile(6)}`);
  // Nothing became markup, nothing ran.
  assert.equal(await widget.host.locator(".tl-panel img, .tl-panel b, .tl-panel script").count(), 0);
  assert.equal(await tab.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(errors, []);
  await context.close();
});
