// End to end: the support dashboard in Chromium over 30 days of history imported through the
// admin API, plus a knowledge proposal from a real conversation resolved by staff, approved with
// a click. Screenshot: target/e2e/dashboard.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { EDGE, axeViolations, createSiteWithKey, launchBrowser } from "./pages.mjs";

const OUTPUT = new URL("../../target/e2e/", import.meta.url);
const DAY = 86_400_000;
const HOSTILE = `<img src=x onerror="window.__pwned=1">`;
const ARTICLES = [
  { id: "reset-password", title: "Reset your password", body: "Use Forgot password on the sign-in page.", questions: ["I forgot my password"] },
  { id: "refunds", title: "Refund policy", body: "Refunds reach your card in 5 to 10 days.", questions: ["can I get a refund"] },
].map((a) => JSON.stringify(a)).join("\n");

let browser;
before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  browser = await launchBrowser();
});
after(async () => browser?.close());

/** 28 days of history, six contacts a day on four channels: answers that helped or not, and
 * escalations that staff answered, resolved and that customers rated. */
function history(now) {
  const events = [];
  const channels = ["chat", "chat", "email", "sms", "chat", "whatsapp"];
  const topics = ["reset-password", "refunds", HOSTILE];
  for (let d = 0; d < 28; d += 1) {
    const morning = Math.floor((now - (29 - d) * DAY) / DAY) * DAY + 9 * 3_600_000;
    for (let c = 0; c < 6; c += 1) {
      const conversation = `history-${d}-${c}`;
      const channel = channels[c];
      let at = morning + c * 600_000;
      const push = (kind, extra = {}) =>
        events.push({ id: `${conversation}-${events.length}`, at, conversation, channel, kind, ...extra });
      push("customer_message");
      at += 2_000;
      if (c % 3 !== 2) {
        const article = topics[(d + c) % topics.length];
        push("bot_answer", { article });
        at += 60_000;
        push("helpful", { article, yes: (d + c) % 4 !== 0 });
      } else {
        const question = ["Do you ship to Norway?", "do you deliver to norway", "can I pay with bitcoin"][d % 3];
        push("bot_no_answer", { reason: d % 2 ? "no_match" : "ambiguous", question });
        at += 30_000;
        push("escalated", { reasons: [d % 5 === 0 ? "urgent" : "visitor_asked"] });
        at += (3 + (d % 7)) * 60_000;
        push("agent_reply");
        at += (1 + (d % 5)) * 3_600_000;
        push("resolved");
        at += 60_000;
        push("rating", { score: 2 + ((d + c) % 4) });
      }
    }
  }
  // A customer writing far more than usual: once a week for two months, then about daily.
  const watch = (at, n) =>
    events.push({ id: `watch-${n}`, at, conversation: "watch-me", channel: "email", kind: "customer_message" });
  for (let week = 2; week < 10; week += 1) watch(now - week * 7 * DAY, week);
  for (let d = 0; d < 4; d += 1) watch(now - d * (DAY + 7_200_000) - 3_600_000, 100 + d);
  return events;
}

async function call(site, method, path, body, headers = {}) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}${path}`, {
    method,
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json", ...headers },
    body: typeof body === "string" || body === undefined ? body : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A customer asks something the bot does not know, a person answers and resolves it. */
async function resolvedByStaff(site) {
  const session = await fetch(`${EDGE}/v1/sites/${site.id}/sessions`, { method: "POST", headers: { Origin: "https://shop.example" } });
  const { token } = await session.json();
  const visitor = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  for (const [id, text] of [["q1", "Do you deliver to Iceland?"], ["q2", "I want to talk to a person"]]) {
    const sent = await fetch(`${EDGE}/v1/sites/${site.id}/conversation/messages`, { method: "POST", headers: visitor, body: JSON.stringify({ id, text }) });
    assert.equal(sent.status, 200);
  }
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  const conversation = claims.conv ?? claims.sub;
  await call(site, "POST", `/conversations/${conversation}/replies`, { id: "r1", text: "Yes: Iceland takes 7 to 10 days." });
  const resolved = await call(site, "POST", `/conversations/${conversation}/resolve`, {});
  return resolved.proposal;
}

/** Stripe and Linear set up; a Stripe event about a customer Stripe does not know leaves Stripe
 * failing, with its error. */
async function integrationsWithAFailure(site) {
  const secret = "whsec_dashboard_test_0123456789";
  await call(site, "PUT", "/integrations/stripe", { api_key: "sk_test_dashboard_0123456789", webhook_secret: secret });
  await call(site, "PUT", "/integrations/linear", {
    api_key: "lin_api_dashboard0123456789abcdefghijklmnop",
    team_id: "0f6ad2b8-1c1e-4f4e-9c1e-5d9a3b7c2e10",
    webhook_secret: "lin_wh_dashboard_0123456789",
  });
  const t = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ id: "evt_dash_1", object: "event", type: "customer.subscription.updated", created: t,
    data: { object: { id: "sub_x", object: "subscription", customer: "cus_nobody_knows", status: "active" } } });
  const signature = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  const response = await fetch(`${EDGE}/v1/sites/${site.id}/integrations/stripe/webhook`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": `t=${t},v1=${signature}` },
    body,
  });
  assert.equal(response.status, 502, await response.text());
}

test("the dashboard charts a month of history, keeps hostile text as text and approves a proposal", async () => {
  const site = await createSiteWithKey("dash", ["https://shop.example"], ARTICLES);
  const now = Date.now();
  const events = history(now);
  const ndjson = { "Content-Type": "application/x-ndjson" };
  const imported = await call(site, "POST", "/metrics/events", events.map((e) => JSON.stringify(e)).join("\n"), ndjson);
  assert.equal(imported.recorded, events.length);
  const again = await call(site, "POST", "/metrics/events", events.map((e) => JSON.stringify(e)).join("\n"), ndjson);
  assert.equal(again.recorded, 0, "an import sent twice counts once");
  const proposal = await resolvedByStaff(site);
  assert.equal(proposal.kind, "article");
  await integrationsWithAFailure(site);
  const report = await call(site, "GET", "/metrics");

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(error.message));
  await tab.goto(`${EDGE}/dashboard/?site=${site.id}`);
  await tab.getByLabel("Admin key").fill("wrong");
  await tab.getByRole("button", { name: "Show" }).click();
  await tab.locator("#status.error").waitFor();
  assert.match(await tab.locator("#status").textContent(), /admin key/);

  await tab.getByLabel("Admin key").fill(site.adminKey);
  await tab.getByRole("button", { name: "Show" }).click();
  await tab.locator("#board:not([hidden])").waitFor();
  await tab.locator("#proposals li[data-proposal]").waitFor();

  const tiles = await tab.locator(".tile").allTextContents();
  assert.ok(tiles[0].startsWith(String(report.total.contacts)), `${tiles[0]} vs ${report.total.contacts}`);
  assert.ok(tiles.some((t) => t.includes(`${Math.round(report.total.deflection_rate * 100)}%`)), tiles.join(" | "));
  // One line a channel in the deflection chart, a point for every day with contacts.
  const lines = await tab.locator("#deflection polyline").evaluateAll((ls) => ls.map((l) => l.dataset.series));
  assert.deepEqual([...new Set(lines)].sort(), Object.keys(report.channels).sort());
  assert.ok((await tab.locator("#resolution circle").count()) >= 20);
  assert.ok((await tab.locator("#csat circle").count()) >= 20);
  const reasonBars = await tab.locator("#reasons rect").count();
  assert.equal(reasonBars, report.escalation_reasons.length);
  // Hostile article ids from the history show as text.
  const cells = await tab.locator("#topics td:first-child").allTextContents();
  assert.ok(cells.includes(HOSTILE), cells.join(" | "));
  assert.equal(await tab.locator("main img").count(), 0);
  assert.equal(await tab.evaluate(() => window.__pwned), undefined);
  // The most asked of what the bot could not answer comes first.
  const asked = await tab.locator("#unanswered > li > strong").allTextContents();
  assert.match(asked[0], /norway/i, asked.join(" | "));
  assert.match(asked[1], /bitcoin/, asked.join(" | "));
  const watched = await tab.locator("#churn tbody td:first-child").allTextContents();
  assert.deepEqual(watched, ["watch-me"]);
  // A failing integration shows, with why; one set up but not used yet says so.
  const stripe = await tab.locator('#integrations tr[data-integration="stripe"] td').allTextContents();
  assert.equal(stripe[1], "Failing", stripe.join(" | "));
  assert.match(stripe[3], /No such customer: 'cus_nobody_knows'/);
  const linear = await tab.locator('#integrations tr[data-integration="linear"] td').allTextContents();
  assert.deepEqual(linear.slice(0, 2), ["Linear (bugs)", "Not used yet"]);
  assert.deepEqual(await axeViolations(tab, "body"), []);
  await tab.screenshot({ path: new URL("dashboard.png", OUTPUT).pathname, fullPage: true });

  // Approving the proposal teaches the bot.
  const item = tab.locator(`#proposals li[data-proposal="${proposal.id}"]`);
  assert.match(await item.textContent(), /Iceland takes 7 to 10 days/);
  await item.getByRole("button", { name: "Approve" }).click();
  await tab.getByText("Nothing to approve.").waitFor();
  const decided = await call(site, "GET", "/proposals?state=approved");
  assert.equal(decided.proposals[0].id, proposal.id);

  // Business-hours times need the site's opening hours: the dashboard says so, then shows them.
  await tab.getByLabel("Times").selectOption("business");
  await tab.getByRole("button", { name: "Show" }).click();
  await tab.locator("#status.error").waitFor();
  assert.match(await tab.locator("#status").textContent(), /opening hours/);
  const weekdays = { days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" };
  await call(site, "PATCH", "", { widget: { hours: { time_zone: "America/New_York", weekly: [weekdays] } } });
  await tab.getByRole("button", { name: "Show" }).click();
  await tab.getByText("times within opening hours, America/New_York").waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
