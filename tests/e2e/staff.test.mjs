// End to end: a visitor asks for a person in the widget, a staff tool's endpoint receives a
// correctly signed `conversation.escalated` with the whole transcript (checked by the reference
// verifier, PyPI `standardwebhooks`), and a staff reply through the API appears in the widget
// live, without a reload.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EDGE, createSiteWithKey, launchBrowser, startHostServer, openWidget } from "./pages.mjs";

const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");

let browser;
let hosts;
let site;
let staffKey;
let receiver;
const received = [];

async function admin(method, path, body) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}${path}`, {
    method,
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
}

before(async () => {
  browser = await launchBrowser();
  hosts = await startHostServer();
  site = await createSiteWithKey("e2e-staff", [hosts.origin], ARTICLES);
  staffKey = (await admin("POST", "/staff-keys", { name: "Priya" })).key;

  // The staff tool's endpoint: starts, says its port, then takes the secret we are given.
  receiver = spawn("python3", [new URL("webhook_receiver.py", import.meta.url).pathname], {
    env: { ...process.env, PYTHONPATH: new URL("../../target/pylib", import.meta.url).pathname },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: receiver.stdout });
  const port = await new Promise((resolve, reject) => {
    receiver.once("exit", (code) => reject(new Error(`webhook receiver exited with ${code}`)));
    lines.once("line", (line) => resolve(JSON.parse(line).port));
  });
  lines.on("line", (line) => received.push(JSON.parse(line)));
  const endpoint = await admin("POST", "/webhooks", { url: `http://127.0.0.1:${port}/threadline`, events: ["conversation.escalated"] });
  receiver.stdin.write(`${endpoint.secret}\n`);
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
  receiver?.kill();
});

async function staff(method, path, body) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}${path}`, {
    method,
    headers: { Authorization: `Bearer ${staffKey}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

test("a visitor who asks for a person: a signed webhook with the transcript, a staff reply as an unread badge and then in the widget, the bot back after resolving", async () => {
  const { context, tab, widget, errors } = await openWidget(browser, `${hosts.origin}/plain?site=${site.id}`);
  const answer = await widget.ask("Do you sell garden furniture?");
  assert.equal(await answer.getAttribute("data-kind"), "no_answer");
  await widget.handoff.click();
  await widget.host.locator("li.tl-message[data-kind=handoff]").waitFor({ state: "visible" });
  await widget.host.locator(".tl-subtitle", { hasText: "Waiting for a person" }).waitFor({ state: "visible" });

  // The staff tool hears of it, signed as the reference verifier expects, with the transcript.
  for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 1, JSON.stringify(received));
  assert.equal(received[0].verified, true, JSON.stringify(received[0]));
  assert.equal(received[0].event.type, "conversation.escalated");
  const transcript = received[0].event.data.transcript.map((m) => m.text);
  assert.ok(transcript.includes("Do you sell garden furniture?"), JSON.stringify(transcript));

  const { queue } = await staff("GET", "/queue");
  assert.equal(queue.length, 1);
  assert.equal(queue[0].excerpt, "Do you sell garden furniture?");
  const conversation = queue[0].conversation;
  assert.equal(received[0].event.data.conversation, conversation);
  const view = await staff("GET", `/conversations/${conversation}`);
  assert.ok(view.messages.some((m) => m.text === "Do you sell garden furniture?"), "staff see the whole conversation");

  // Priya starts writing: the open widget says so.
  await staff("POST", `/conversations/${conversation}/typing`);
  await widget.host.locator(".tl-typing", { hasText: "Priya is writing" }).waitFor({ state: "visible" });

  // She closed the panel meanwhile: the reply arrives as an unread badge on the launcher.
  await widget.launcher.click();
  await widget.panel.waitFor({ state: "hidden" });
  const sent = await staff("POST", `/conversations/${conversation}/replies`, { id: "r1", text: "Hi, it's Priya. We don't, but our partner shop does." });
  assert.equal(sent.delivered_by, "chat", "the customer has the chat open");
  const badge = widget.host.locator(".tl-badge");
  await badge.waitFor({ state: "visible" });
  assert.equal(await badge.textContent(), "1");
  assert.equal(await widget.launcher.getAttribute("aria-label"), "Open chat (1 unread reply)");
  await widget.open();
  assert.equal(await badge.count(), 0, "read once the panel is open");
  const agent = widget.host.locator("li.tl-message[data-role=agent]");
  await agent.waitFor({ state: "visible" });
  assert.equal(await widget.host.locator(".tl-typing").count(), 0, "her message ends the typing signal");
  assert.equal(await agent.locator(".tl-bubble").textContent(), "Hi, it's Priya. We don't, but our partner shop does.");

  await staff("POST", `/conversations/${conversation}/resolve`, {});
  await widget.host.locator(".tl-subtitle", { hasText: "Answers from our help centre" }).waitFor({ state: "visible" });
  // Resolved: one tap rates the help, and staff see it.
  await widget.host.locator(".tl-rating").waitFor({ state: "visible" });
  await widget.host.locator("[data-score='5']").click();
  await widget.host.locator(".tl-feedback", { hasText: "Thanks for rating us" }).waitFor({ state: "visible" });
  // Shown at once, posted meanwhile: wait for the edge to have it.
  let rating;
  for (let i = 0; i < 50 && !rating; i++) {
    rating = (await staff("GET", `/conversations/${conversation}`)).rating;
    if (!rating) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(rating?.score, 5);
  const next = await widget.ask("I forgot my password");
  assert.equal(await next.getAttribute("data-kind"), "answer");
  assert.deepEqual(errors, []);
  await context.close();
});
