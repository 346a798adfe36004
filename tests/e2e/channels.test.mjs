// End to end, the seed's story in a real browser: a customer chats in the widget on the site,
// follows up by email (through the worker's email handler, as Cloudflare Email Routing delivers
// it) and then on WhatsApp (a signed Cloud API webhook). The open widget shows both follow-ups
// live, in one timeline, and a staff reply goes out on WhatsApp, where she wrote last, and
// appears in her chat too.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { EDGE, createIdentitySecret, createSiteWithKey, launchBrowser, signIdentity, startHostServer, openWidget } from "./pages.mjs";

const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");
const SINK = process.env.THREADLINE_MAIL_URL;
const APP_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const PHONE_NUMBER_ID = "5550001112223";

let browser;
let hosts;
before(async () => {
  browser = await launchBrowser();
  hosts = await startHostServer();
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
});

const now = () => Math.floor(Date.now() / 1000);

async function setUpWhatsapp(site) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}/channels/whatsapp`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      phone_number_id: PHONE_NUMBER_ID,
      phone_number: "+1 555 000 1111",
      access_token: "EAAG-e2e-token",
      app_secret: APP_SECRET,
      verify_token: "e2e-verify-token",
    }),
  });
  assert.equal(response.status, 200, await response.text());
}

async function emailIn(site, from, subject, body) {
  const to = `${site.id}@mail.threadline.test`;
  const domain = from.split("@")[1];
  const raw = [
    `Authentication-Results: mx.cloudflare.net; dkim=pass header.d=${domain}; dmarc=pass header.from=${domain}`,
    `From: Grace <${from}>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@${domain}>`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
    "",
  ].join("\r\n");
  const response = await fetch(`${EDGE}/cdn-cgi/handler/email?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, {
    method: "POST",
    body: raw,
  });
  assert.equal(response.status, 200, await response.text());
}

async function whatsappIn(site, phone, text) {
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "1", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550001111", phone_number_id: PHONE_NUMBER_ID },
      contacts: [{ profile: { name: "Grace" }, wa_id: phone.slice(1) }],
      messages: [{ from: phone.slice(1), id: `wamid.${Date.now()}`, timestamp: String(now()), type: "text", text: { body: text } }],
    } }] }],
  });
  const signature = `sha256=${createHmac("sha256", APP_SECRET).update(body).digest("hex")}`;
  const response = await fetch(`${EDGE}/v1/sites/${site.id}/inbound/whatsapp`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Hub-Signature-256": signature },
    body,
  });
  assert.equal(response.status, 200, await response.text());
}

test("chat, then email, then WhatsApp: one timeline in the open widget, and staff answer on WhatsApp", async () => {
  const site = await createSiteWithKey("e2e-channels", [hosts.origin], ARTICLES);
  await setUpWhatsapp(site);
  const secret = await createIdentitySecret(site);
  const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const email = `grace-${tag}@example.com`;
  const phone = `+4477${String(Date.now()).slice(-8)}`;

  // 2 PM: she chats on the site, signed in (the site vouches for her email and phone).
  const { context, tab, widget, errors } = await openWidget(browser, `${hosts.origin}/plain?site=${site.id}`);
  await widget.ask("My order 4471 hasn't arrived");
  await widget.identify(signIdentity(secret, { sub: `cust-${tag}`, aud: site.id, exp: now() + 300, email, phone }));

  // 3 PM: a follow-up by email; it appears in her open chat.
  await emailIn(site, email, "Order 4471", "Any news on order 4471? It's for a birthday on Friday.");
  await widget.shows("Any news on order 4471? It's for a birthday on Friday.");

  // Later: WhatsApp, from the phone the site vouched for.
  await whatsappIn(site, phone, "Still nothing for 4471, can a person help?");
  await widget.shows("Still nothing for 4471, can a person help?");
  const texts = await widget.transcriptTexts();
  const order = ["My order 4471 hasn't arrived", "Any news on order 4471? It's for a birthday on Friday.", "Still nothing for 4471, can a person help?"]
    .map((t) => texts.indexOf(t));
  assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])), JSON.stringify(texts));

  // Staff reply: it goes out on WhatsApp, where she wrote last, and shows in the chat too.
  const queue = await (await fetch(`${EDGE}/v1/sites/${site.id}/queue`, { headers: { Authorization: `Bearer ${site.adminKey}` } })).json();
  const conversation = queue.queue[0].conversation;
  const reply = await fetch(`${EDGE}/v1/sites/${site.id}/conversations/${conversation}/replies`, {
    method: "POST",
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id: "r1", text: "Hi Grace, Maya here: 4471 is out for delivery today." }),
  });
  assert.equal((await reply.json()).delivered_by, "whatsapp");
  await widget.shows("Hi Grace, Maya here: 4471 is out for delivery today.");
  const sent = await (await fetch(`${SINK}/_sink/whatsapp?to=${phone.slice(1)}`)).json();
  assert.equal(sent.at(-1).body, "Hi Grace, Maya here: 4471 is out for delivery today.");
  assert.deepEqual(errors, []);
  await context.close();
});

test("continue on WhatsApp: the widget shows a wa.me link with a code, and the chat follows once it arrives", async () => {
  const site = await createSiteWithKey("e2e-continue", [hosts.origin], ARTICLES);
  await setUpWhatsapp(site);
  const phone = `+4478${String(Date.now()).slice(-8)}`;
  const { context, tab, widget, errors } = await openWidget(browser, `${hosts.origin}/plain?site=${site.id}`);
  await widget.ask("My order 4471 hasn't arrived");

  await widget.host.locator("[data-action=continue]").click();
  const choices = await widget.host.locator("[data-channel]").allTextContents();
  assert.deepEqual(choices, ["Email", "WhatsApp"]);
  await widget.host.locator("[data-channel=whatsapp]").click();
  const open = widget.host.locator("a.tl-open");
  await open.waitFor({ state: "visible" });
  const href = await open.getAttribute("href");
  assert.match(href, /^https:\/\/wa\.me\/15550001111\?text=Continue%20my%20conversation%20with%20.*TL-[0-9A-Z]{8}$/);
  assert.equal(await open.getAttribute("target"), "_blank");
  assert.match(await open.getAttribute("rel"), /noopener/);
  const text = await widget.host.locator(".tl-code-text").textContent();
  assert.equal(decodeURIComponent(href.split("?text=")[1]), text);

  // She sends the prefilled text from WhatsApp: the chat shows it, and says it is connected.
  await whatsappIn(site, phone, text);
  await widget.shows(text);
  await widget.host.locator("[data-state=connected]", { hasText: "Connected on WhatsApp" }).waitFor({ state: "visible" });
  await widget.shows("You're connected");
  // What she writes on WhatsApp next shows in the chat too, answered there.
  await whatsappIn(site, phone, "How do I reset my password?");
  await widget.shows("How do I reset my password?");
  const sent = await (await fetch(`${SINK}/_sink/whatsapp?to=${phone.slice(1)}`)).json();
  assert.ok(sent.at(0).body.startsWith("You're connected"), JSON.stringify(sent));
  assert.deepEqual(errors, []);
  await context.close();
});
