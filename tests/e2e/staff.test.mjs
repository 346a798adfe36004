// End to end: a visitor asks for a person in the widget, the conversation reaches the staff
// queue, and a staff reply through the API appears in the widget live, without a reload.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EDGE, Widget, createSiteWithKey, launchBrowser, startHostServer } from "./pages.mjs";

const ARTICLES = readFileSync(new URL("../../www/demo/articles.jsonl", import.meta.url), "utf8");

let browser;
let hosts;
let site;
let staffKey;
before(async () => {
  browser = await launchBrowser();
  hosts = await startHostServer();
  site = await createSiteWithKey("e2e-staff", [hosts.origin], ARTICLES);
  const created = await fetch(`${EDGE}/v1/sites/${site.id}/staff-keys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Priya" }),
  });
  staffKey = (await created.json()).key;
});
after(async () => {
  await browser?.close();
  hosts?.server.close();
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

test("a visitor who asks for a person gets a staff reply in the open widget, and the bot is back after resolving", async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(error.message));
  await tab.goto(`${hosts.origin}/plain?site=${site.id}`);
  const widget = new Widget(tab);
  await widget.open();
  const answer = await widget.ask("Do you sell garden furniture?");
  assert.equal(await answer.getAttribute("data-kind"), "no_answer");
  await widget.handoff.click();
  await widget.host.locator("li.tl-message[data-kind=handoff]").waitFor({ state: "visible" });
  await widget.host.locator(".tl-subtitle", { hasText: "Waiting for a person" }).waitFor({ state: "visible" });

  const { queue } = await staff("GET", "/queue");
  assert.equal(queue.length, 1);
  assert.equal(queue[0].excerpt, "Do you sell garden furniture?");
  const conversation = queue[0].conversation;
  const view = await staff("GET", `/conversations/${conversation}`);
  assert.ok(view.messages.some((m) => m.text === "Do you sell garden furniture?"), "staff see the whole conversation");

  await staff("POST", `/conversations/${conversation}/replies`, { id: "r1", text: "Hi, it's Priya. We don't, but our partner shop does." });
  const agent = widget.host.locator("li.tl-message[data-role=agent]");
  await agent.waitFor({ state: "visible" });
  assert.equal(await agent.locator(".tl-bubble").textContent(), "Hi, it's Priya. We don't, but our partner shop does.");

  await staff("POST", `/conversations/${conversation}/resolve`, {});
  await widget.host.locator(".tl-subtitle", { hasText: "Answers from our help centre" }).waitFor({ state: "visible" });
  const next = await widget.ask("I forgot my password");
  assert.equal(await next.getAttribute("data-kind"), "answer");
  assert.deepEqual(errors, []);
  await context.close();
});
