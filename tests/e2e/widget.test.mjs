// End to end: the real widget (loader + Wasm) in Debian's Chromium, on host pages of other
// origins, talking over real HTTP and WebSockets to the real edge under `wrangler dev`.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { EDGE, Widget, axeViolations, createSite, launchBrowser, startHostServer } from "./pages.mjs";

const OUTPUT = new URL("../../target/e2e/", import.meta.url);
const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");

let browser;
let hosts; // the allowed origin
let elsewhere; // an origin no site allows
let site;
before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  browser = await launchBrowser();
  hosts = await startHostServer();
  elsewhere = await startHostServer();
  site = await createSite("e2e", [hosts.origin], ARTICLES);
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
  elsewhere?.server.close();
});
const page = (host, fixture, siteId) => `${host.origin}/${fixture}?site=${siteId}`;

test("the loader adds one global and no styles to the host page, and waits for the page to load", async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(page(hosts, "hostile", site));
  const widget = new Widget(tab);
  await widget.launcher.waitFor({ state: "visible" });
  // The Wasm is fetched when the browser is idle, after the host page has finished loading.
  await tab.waitForFunction(() => performance.getEntriesByType("resource").some((e) => e.name.endsWith(".wasm")));
  const timing = await tab.evaluate(() => {
    const wasm = performance.getEntriesByType("resource").find((e) => e.name.endsWith(".wasm"));
    return { wasmStart: wasm.startTime, loadEnd: performance.getEntriesByType("navigation")[0].loadEventEnd };
  });
  assert.ok(timing.wasmStart >= timing.loadEnd, `wasm fetched at ${timing.wasmStart} ms, page loaded at ${timing.loadEnd} ms`);

  // Globals compared with those of a blank frame of the same origin.
  const leaks = await tab.evaluate(async () => {
    const frame = document.createElement("iframe");
    document.documentElement.appendChild(frame);
    const clean = new Set(Object.getOwnPropertyNames(frame.contentWindow));
    frame.remove();
    return {
      globals: Object.getOwnPropertyNames(window).filter((name) => !clean.has(name)),
      styles: document.querySelectorAll("style, link[rel=stylesheet]").length,
      sheets: document.styleSheets.length,
      bodyChildren: [...document.body.children].map((e) => e.tagName + (e.hasAttribute("data-threadline") ? "[data-threadline]" : "")),
    };
  });
  assert.deepEqual(leaks.globals, ["Threadline"]);
  assert.equal(leaks.styles, 1, "only the host page's own <style>");
  assert.equal(leaks.sheets, 1);
  assert.deepEqual(leaks.bodyChildren.filter((t) => t.includes("data-threadline")), ["DIV[data-threadline]"]);
  await context.close();
});

test("a visitor on a hostile page asks, gets answers and the no-answer path, safely, and keeps them across reloads", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(error.message));
  await tab.goto(page(hosts, "hostile", site));
  const widget = new Widget(tab);

  // The host page's CSS hides every div and button and shrinks body children; the launcher is
  // still there, full size, where it belongs.
  await widget.launcher.waitFor({ state: "visible" });
  await widget.ready();
  const box = await widget.launcher.boundingBox();
  assert.equal(Math.round(box.width), 56);
  assert.ok(box.x > 1000 && box.y > 680, `launcher at ${JSON.stringify(box)}`);

  await widget.open();
  const answer = await widget.ask("I forgot my password, how do I get back in?");
  assert.equal(await answer.getAttribute("data-kind"), "answer");
  assert.match(await answer.locator(".tl-bubble").textContent(), /Forgot password/);
  const link = answer.locator(".tl-source a");
  assert.equal(await link.textContent(), "Reset your password");
  assert.equal(await link.getAttribute("href"), "http://127.0.0.1:8787/help/reset-password");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");

  const noAnswer = await widget.ask("Do you sell garden furniture?");
  assert.equal(await noAnswer.getAttribute("data-kind"), "no_answer");
  assert.match(await noAnswer.textContent(), /rather not guess/);
  await widget.handoff.waitFor({ state: "visible" });

  // Markup typed by a visitor is shown as text, never run or rendered.
  const injection = `<img src=x onerror="window.__pwned=1"><b>bold</b>`;
  await widget.ask(injection);
  const texts = await widget.transcriptTexts();
  assert.ok(texts.includes(injection), JSON.stringify(texts));
  assert.equal(await widget.host.locator("img, b").count(), 0);
  assert.equal(await tab.evaluate(() => window.__pwned), undefined);

  await tab.screenshot({ path: new URL("widget-hostile.png", OUTPUT).pathname });
  const before = await widget.transcriptTexts();
  assert.equal(before.length, 6);

  // Reload: the conversation is still there and continues.
  await tab.reload();
  const again = new Widget(tab);
  await again.open();
  await tab.waitForFunction((n) => document.querySelector("[data-threadline]").shadowRoot.querySelectorAll("li.tl-message").length >= n, before.length);
  assert.deepEqual(await again.transcriptTexts(), before);
  const next = await again.ask("can clients pay by credit card?");
  assert.equal(await next.getAttribute("data-kind"), "answer");
  assert.match(await next.locator(".tl-source").textContent(), /Accept card payments/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a token from another site is refused, and the widget starts a fresh conversation instead of showing anyone's", async () => {
  const otherSite = await createSite("e2e-other", [hosts.origin], ARTICLES);
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(page(hosts, "plain", site));
  const widget = new Widget(tab);
  await widget.open();
  await widget.ask("how much does larkspur cost?");
  const stolen = await tab.evaluate((s) => JSON.parse(localStorage.getItem(`threadline:${s}:session`)), site);
  assert.ok(stolen?.token);

  // Straight at the API, from the page: refused.
  const refused = await tab.evaluate(
    async ([edge, other, token]) => {
      const response = await fetch(`${edge}/v1/sites/${other}/conversation`, { headers: { Authorization: `Bearer ${token}` } });
      return { status: response.status, body: await response.json() };
    },
    [EDGE, otherSite, stolen.token],
  );
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, "token_wrong_site");

  // Through the widget of the other site, with the stolen token planted in its storage.
  await tab.evaluate(([other, session]) => localStorage.setItem(`threadline:${other}:session`, JSON.stringify(session)), [otherSite, stolen]);
  const other = await context.newPage();
  await other.goto(page(hosts, "plain", otherSite));
  const otherWidget = new Widget(other);
  await otherWidget.open();
  await other.locator("[data-threadline] .tl-empty").waitFor({ state: "visible" });
  const reply = await otherWidget.ask("I forgot my password");
  assert.equal(await reply.getAttribute("data-kind"), "answer");
  assert.equal((await otherWidget.transcriptTexts()).length, 2, "only the new conversation, nothing from the first site");
  const replaced = await other.evaluate((s) => JSON.parse(localStorage.getItem(`threadline:${s}:session`)), otherSite);
  assert.notEqual(replaced.token, stolen.token);
  await context.close();
});

test("errors are readable: unknown site, page origin not allowed, message too long", async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();

  await tab.goto(page(hosts, "plain", "no-such-site"));
  let widget = new Widget(tab);
  await widget.open();
  await widget.notice.waitFor({ state: "visible" });
  assert.match(await widget.notice.textContent(), /isn't set up for this site/);

  await tab.goto(page(elsewhere, "plain", site));
  widget = new Widget(tab);
  await widget.open();
  await widget.notice.waitFor({ state: "visible" });
  assert.match(await widget.notice.textContent(), /isn't enabled on this page's address/);
  await context.close();

  const plain = await browser.newContext();
  const tab2 = await plain.newPage();
  await tab2.goto(page(hosts, "plain", site));
  widget = new Widget(tab2);
  await widget.open();
  await widget.input.fill("x".repeat(2001));
  await widget.host.locator(".tl-limit").waitFor({ state: "visible" });
  assert.match(await widget.host.locator(".tl-limit").textContent(), /2001 \/ 2000 characters/);
  assert.equal(await widget.host.locator(".tl-send").isDisabled(), true);
  await plain.close();
});

test("did that help? yes thanks the visitor; no offers a person; both are recorded on the answer", async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(page(hosts, "plain", site));
  const widget = new Widget(tab);
  await widget.open();
  const yes = widget.host.locator("[data-action=helpful-yes]");
  const no = widget.host.locator("[data-action=helpful-no]");

  await widget.ask("How do I reset my password?");
  await yes.click();
  await widget.host.locator(".tl-feedback", { hasText: "Glad that helped" }).waitFor({ state: "visible" });
  assert.equal(await widget.host.locator("button", { hasText: "Talk to a person" }).count(), 0);

  await widget.ask("I forgot my password");
  await no.click();
  await widget.host.locator(".tl-feedback", { hasText: "Sorry that didn't help" }).waitFor({ state: "visible" });
  await widget.host.locator("button", { hasText: "Talk to a person" }).waitFor({ state: "visible" });

  // The edge has both, on the right answers (a reload shows what it stored).
  // The widget shows the choice at once and posts it; wait for the edge to have both.
  const token = await tab.evaluate((key) => JSON.parse(localStorage.getItem(key)).token, `threadline:${site}:session`);
  let recorded = [];
  for (let i = 0; i < 50; i++) {
    const transcript = await (await fetch(`${EDGE}/v1/sites/${site}/conversation`, { headers: { Authorization: `Bearer ${token}` } })).json();
    recorded = transcript.messages.filter((m) => m.bot?.kind === "answer").map((m) => m.helpful);
    if (recorded.every((h) => h !== undefined)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(recorded, [true, false]);
  await tab.reload();
  await widget.open();
  await widget.host.locator(".tl-feedback", { hasText: "Sorry that didn't help" }).waitFor({ state: "visible" });
  await context.close();
});

test("the JS API: on('open' | 'close' | 'message' | 'escalated'), off, show and hide", async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(page(hosts, "plain", site));
  await tab.evaluate(() => {
    window.__events = [];
    for (const name of ["open", "close", "message", "escalated"]) {
      window.Threadline("on", name, (detail) => window.__events.push(detail ? `${name}:${detail.role}:${detail.text}` : name));
    }
    window.__ignored = () => window.__events.push("should not run");
    window.Threadline("on", "message", window.__ignored);
    window.Threadline("off", "message", window.__ignored);
  });
  const events = () => tab.evaluate(() => window.__events);
  const widget = new Widget(tab);
  await tab.evaluate(() => window.Threadline("open"));
  await widget.panel.waitFor({ state: "visible" });
  await widget.ask("Do you sell garden furniture?");
  await widget.handoff.click();
  await widget.host.locator("li.tl-message[data-kind=handoff]").waitFor({ state: "visible" });
  await tab.evaluate(() => window.Threadline("close"));
  await widget.panel.waitFor({ state: "hidden" });
  await tab.waitForFunction(() => window.__events.includes("close"));
  const seen = await events();
  assert.equal(seen[0], "open");
  assert.ok(seen.some((e) => e.startsWith("message:bot:")), JSON.stringify(seen));
  assert.equal(seen.filter((e) => e === "escalated").length, 1, JSON.stringify(seen));
  assert.ok(!seen.some((e) => e.startsWith("message:visitor")), "the visitor's own messages are not news");
  assert.ok(!seen.includes("should not run"));
  assert.equal(seen.at(-1), "close");

  await tab.evaluate(() => window.Threadline("hide"));
  await widget.launcher.waitFor({ state: "hidden" });
  await tab.evaluate(() => window.Threadline("show"));
  await widget.launcher.waitFor({ state: "visible" });
  await context.close();
});

test("themes and accessibility: light and dark follow the system, axe-core (contrast included) finds no violations in either, and usable on a 320 px phone; screenshots saved", async () => {
  const shots = [
    { name: "light", colorScheme: "light", viewport: { width: 1280, height: 800 } },
    { name: "dark", colorScheme: "dark", viewport: { width: 1280, height: 800 } },
    { name: "phone-320-dark", colorScheme: "dark", viewport: { width: 320, height: 640 } },
    { name: "phone-320-light", colorScheme: "light", viewport: { width: 320, height: 640 } },
  ];
  for (const shot of shots) {
    const context = await browser.newContext({ colorScheme: shot.colorScheme, viewport: shot.viewport });
    const tab = await context.newPage();
    await tab.goto(page(hosts, "plain", site));
    const widget = new Widget(tab);
    await widget.open();
    await widget.ask("How do I reset my password?");
    await widget.ask("Do you sell garden furniture?");
    const background = await widget.panel.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(background, shot.colorScheme === "dark" ? "rgb(24, 24, 27)" : "rgb(255, 255, 255)", shot.name);
    // The whole panel is on screen, and nothing scrolls sideways.
    const box = await widget.panel.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= shot.viewport.width, `${shot.name}: ${JSON.stringify(box)}`);
    const sideways = await widget.host.locator(".tl-messages").evaluate((el) => el.scrollWidth - el.clientWidth);
    assert.equal(sideways, 0, shot.name);
    const violations = await axeViolations(tab);
    assert.deepEqual(violations, [], `${shot.name}: ${JSON.stringify(violations)}`);
    await tab.screenshot({ path: new URL(`widget-${shot.name}.png`, OUTPUT).pathname });
    await context.close();
  }
});
