// End to end: one customer, one conversation, across browsers. Each browser context is its own
// profile directory (separate storage), like two devices. The edge is the real one under
// `wrangler dev`; codes travel through the local Postmark stand-in.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Widget, codeSentTo, createIdentitySecret, createSiteWithKey, launchBrowser, signIdentity, startHostServer, openWidget } from "./pages.mjs";

const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");

let browser;
let hosts;
let site;
let secret;
before(async () => {
  browser = await launchBrowser();
  hosts = await startHostServer();
  site = await createSiteWithKey("e2e-id", [hosts.origin], ARTICLES);
  secret = await createIdentitySecret(site);
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
});

const unique = (tag) => `${tag}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}@example.com`;
const now = () => Math.floor(Date.now() / 1000);

/** A fresh "device": its own browser context, on the plain host page, chat open. */
function device() {
  return openWidget(browser, `${hosts.origin}/plain?site=${site.id}`);
}

test("a customer who chatted on one device sees the same conversation after logging in on another", async () => {
  const email = unique("ana");
  const token = () => signIdentity(secret, { sub: `user-${email}`, aud: site.id, exp: now() + 300, email, name: "Ana" });

  // Device A: an anonymous question, then the site's page identifies the logged-in user.
  const a = await device();
  await a.widget.ask("How do I send an invoice reminder?");
  await a.widget.identify(token());
  await a.widget.shows("How do I send an invoice reminder?");

  // Device B, a different browser profile: anonymous at first, then the same user logs in.
  const b = await device();
  await b.widget.ask("I forgot my password");
  assert.ok(!(await b.widget.transcriptTexts()).some((t) => t.includes("invoice reminder")), "nothing of A's before B proves who it is");
  // A second tab on device B, open before the login.
  const bTab2 = await b.context.newPage();
  await bTab2.goto(`${hosts.origin}/plain?site=${site.id}`);
  const bWidget2 = new Widget(bTab2);
  await bWidget2.open();
  await bWidget2.shows("I forgot my password");
  await b.widget.identify(token());
  await b.widget.shows("How do I send an invoice reminder?");
  await b.widget.shows("I forgot my password");
  const onB = await b.widget.transcriptTexts();
  assert.ok(onB.indexOf("How do I send an invoice reminder?") < onB.indexOf("I forgot my password"), JSON.stringify(onB));
  assert.equal(onB.filter((t) => t === "I forgot my password").length, 1);

  // A sees B's question too (live, no reload), B's other tab follows, and a new message from B
  // reaches A.
  await a.widget.shows("I forgot my password");
  await bWidget2.shows("How do I send an invoice reminder?");
  await b.widget.ask("Can clients pay by credit card?");
  await a.widget.shows("Can clients pay by credit card?");

  // After a reload B is still in the one conversation.
  await b.tab.reload();
  const again = new Widget(b.tab);
  await again.open();
  await again.shows("How do I send an invoice reminder?");
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context.close();
  await b.context.close();
});

test("typing an email and entering the code sent there joins that customer's conversation; a wrong code joins nothing", async () => {
  const email = unique("bo");
  // The customer's history, tied to the email by the site (device A).
  const a = await device();
  await a.widget.ask("Where do I change my company logo?");
  await a.widget.identify(signIdentity(secret, { sub: `user-${email}`, aud: site.id, exp: now() + 300, email }));
  await a.widget.shows("Where do I change my company logo?");

  // An impostor types the customer's address: a code goes to the customer's inbox; guessing fails.
  const impostor = await device();
  await impostor.widget.ask(`my email is ${email}`);
  await impostor.widget.host.locator("[data-action=send-code]").click();
  await impostor.widget.host.locator(".tl-code").fill("000000");
  const real = await codeSentTo(email);
  if (real === "000000") await impostor.widget.host.locator(".tl-code").fill("111111");
  await impostor.widget.host.locator("[data-action=verify-code]").click();
  await impostor.widget.host.locator(".tl-verify [role=alert]").waitFor({ state: "visible" });
  assert.match(await impostor.widget.host.locator(".tl-verify [role=alert]").textContent(), /code isn't right/);
  assert.ok(!(await impostor.widget.transcriptTexts()).some((t) => t.includes("company logo")));

  // The customer on a new device types the address and enters the code from the email.
  const c = await device();
  await c.widget.ask(`Hi, it's me again, ${email}`);
  await c.widget.verifyEmail(email, codeSentTo);
  await c.widget.host.locator(".tl-verified").waitFor({ state: "visible" });
  await c.widget.shows("Where do I change my company logo?");
  await c.widget.shows(`Hi, it's me again, ${email}`);
  // Still nothing for the impostor.
  assert.ok(!(await impostor.widget.transcriptTexts()).some((t) => t.includes("company logo")));
  for (const d of [a, impostor, c]) await d.context.close();
});

test("identify with a forged token changes nothing, and logging out forgets the conversation on this browser", async () => {
  const email = unique("cy");
  const d = await device();
  await d.widget.ask("How do I export my invoices?");
  const warnings = [];
  d.tab.on("console", (message) => message.type() === "warning" && warnings.push(message.text()));
  const forged = signIdentity({ kid: secret.kid, secret: "not the site's secret" }, { sub: "someone-else", aud: site.id, exp: now() + 300, email });
  await d.widget.identify(forged);
  await d.tab.waitForFunction(() => true);
  await d.widget.shows("How do I export my invoices?");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(warnings.some((w) => w.includes("identity_invalid")), JSON.stringify(warnings));
  assert.ok((await d.widget.transcriptTexts()).some((t) => t === "How do I export my invoices?"));

  // `Threadline('shutdown')` (logout): the next person on this browser starts empty.
  await d.tab.evaluate(() => window.Threadline("shutdown"));
  await d.widget.host.locator(".tl-empty").waitFor({ state: "visible" });
  assert.deepEqual(await d.widget.transcriptTexts(), []);
  await d.tab.reload();
  const again = new Widget(d.tab);
  await again.open();
  await again.host.locator(".tl-empty").waitFor({ state: "visible" });
  await d.context.close();
});

test("expired, wrong-key and other-site tokens and guessed codes are refused in the browser, and nothing joins", async () => {
  const email = unique("dee");
  const owner = await device();
  await owner.widget.ask("My last invoice was charged twice");
  await owner.widget.identify(signIdentity(secret, { sub: `user-${email}`, aud: site.id, exp: now() + 300, email }));
  await owner.widget.shows("My last invoice was charged twice");

  const intruder = await device();
  await intruder.widget.ask("hello");
  const warnings = [];
  intruder.tab.on("console", (message) => message.type() === "warning" && warnings.push(message.text()));
  const claims = { sub: `user-${email}`, aud: site.id, exp: now() + 300, email };
  const attempts = [
    ["identity_expired", signIdentity(secret, { ...claims, exp: now() - 3600 })],
    ["identity_invalid", signIdentity({ kid: "idk_000000000000", secret: secret.secret }, claims)],
    ["identity_wrong_site", signIdentity(secret, { ...claims, aud: "another-site" })],
  ];
  for (const [code, token] of attempts) {
    await intruder.widget.identify(token);
    for (let i = 0; i < 50 && !warnings.some((w) => w.includes(code)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(warnings.some((w) => w.includes(code)), `${code}: ${JSON.stringify(warnings)}`);
  }
  // Guessing the owner's code: five wrong tries, then even a right one would be refused.
  await intruder.widget.ask(`I am ${email}`);
  await intruder.widget.host.locator("[data-action=send-code]").click();
  const real = await (async () => {
    await intruder.widget.host.locator(".tl-code").waitFor({ state: "visible" });
    return codeSentTo(email);
  })();
  const wrong = ["000000", "111111", "222222", "333333", "444444", "555555"].filter((c) => c !== real).slice(0, 5);
  for (const [n, guess] of wrong.entries()) {
    await intruder.widget.host.locator(".tl-code").waitFor({ state: "visible" });
    await intruder.widget.host.locator(".tl-code").fill(guess);
    await intruder.widget.host.locator("[data-action=verify-code]").click();
    const expected = n < wrong.length - 1 ? /isn't right/ : /Too many wrong codes/;
    await intruder.widget.host.locator(".tl-verify .tl-failed", { hasText: expected }).waitFor({ state: "visible" });
  }
  assert.ok(!(await intruder.widget.transcriptTexts()).some((t) => t.includes("charged twice")));
  for (const d of [owner, intruder]) await d.context.close();
});
