// Page objects for the widget's end-to-end tests: what a visitor does and sees, in words a test
// can read, so the tests say what is checked rather than how the DOM is shaped.
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
export { launchBrowser } from "./browser.mjs";

export const EDGE = process.env.THREADLINE_URL;
const OPERATOR_KEY = process.env.THREADLINE_OPERATOR_KEY;
if (!EDGE || !OPERATOR_KEY) {
  throw new Error("THREADLINE_URL and THREADLINE_OPERATOR_KEY are not set: run these tests with scripts/test, which starts the edge");
}

/** Creates a site through the operator and admin APIs, as a site owner would. */
export async function createSite(prefix, allowedOrigins, articlesJsonl) {
  return (await createSiteWithKey(prefix, allowedOrigins, articlesJsonl)).id;
}

/** Like createSite, and returns `{ id, adminKey }`; on the shared edge unless `edge` says. */
export async function createSiteWithKey(prefix, allowedOrigins, articlesJsonl, edge = EDGE) {
  const id = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const created = await fetch(`${edge}/v1/sites`, {
    method: "POST",
    headers: { Authorization: `Bearer ${OPERATOR_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id, name: `E2E ${prefix}`, allowed_origins: allowedOrigins }),
  });
  if (created.status !== 201) throw new Error(`creating site ${id}: ${created.status} ${await created.text()}`);
  const { admin_key } = await created.json();
  if (articlesJsonl) {
    const loaded = await fetch(`${edge}/v1/sites/${id}/articles`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${admin_key}`, "Content-Type": "application/x-ndjson" },
      body: articlesJsonl,
    });
    if (loaded.status !== 200) throw new Error(`loading articles: ${loaded.status} ${await loaded.text()}`);
  }
  return { id, adminKey: admin_key };
}

/** The site owner sets how the widget looks and behaves (`PATCH /v1/sites/{site}` `widget`). */
export async function configureWidget(site, widget, edge = EDGE) {
  const response = await fetch(`${edge}/v1/sites/${site.id}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${site.adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ widget }),
  });
  if (response.status !== 200) throw new Error(`widget settings: ${response.status} ${await response.text()}`);
}

/** The profile holding `identity` (`kind:value`), through the admin API. */
export async function profileOf(site, identity) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}/profiles?identity=${encodeURIComponent(identity)}`, {
    headers: { Authorization: `Bearer ${site.adminKey}` },
  });
  return (await response.json()).profiles[0];
}

/**
 * A private edge (wrangler dev + mail sink, as scripts/test starts them) on `port` with its own
 * empty state, for tests that stop it: `crash()` kills it (SIGKILL, whole process groups) and
 * `restart()` starts it again on the same state.
 */
export function startOwnEdge(port) {
  const root = new URL("../../", import.meta.url).pathname;
  const state = `${root}target/test-state-${port}`;
  rmSync(state, { recursive: true, force: true });
  let pids = [];
  const boot = () => {
    const script = `source scripts/edge.sh && start_edge ${port} '${state}' target/test-wrangler-${port}.log && echo $EDGE_PID $MAIL_PID`;
    const printed = execFileSync("bash", ["-c", script], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    pids = printed.toString().trim().split(/\s+/).map(Number);
  };
  const crash = () => {
    for (const pid of pids) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }
    pids = [];
  };
  boot();
  return { url: `http://127.0.0.1:${port}`, crash, restart: () => (crash(), boot()), stop: crash };
}

/** Creates an identity secret for the site: `{ kid, secret }`, as the site's backend keeps them. */
export async function createIdentitySecret(site) {
  const response = await fetch(`${EDGE}/v1/sites/${site.id}/identity-secrets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${site.adminKey}` },
  });
  if (response.status !== 201) throw new Error(`identity secret: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * What a site's backend does to vouch for its logged-in user: an HS256 JWT with the secret's
 * `kid`, the site as `aud` and a short `exp` (the few lines the docs show, in Node).
 */
export function signIdentity({ kid, secret }, claims) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT", kid })}.${b64(claims)}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

/** The six-digit code in the newest email the local mail sink accepted for `address`. */
export async function codeSentTo(address) {
  const sink = process.env.THREADLINE_MAIL_URL;
  const mail = await (await fetch(`${sink}/_sink/messages?to=${encodeURIComponent(address)}`)).json();
  if (!mail.length) throw new Error(`no email was sent to ${address}`);
  return /\b(\d{6})\b/.exec(mail.at(-1).TextBody)[1];
}

/**
 * Serves the host pages over real HTTP from a second origin on this machine: `/<fixture>?site=<id>`
 * returns `fixtures/<fixture>.html` with the edge's address and the site filled in. Returns the
 * server and its origin. (Loopback on both sides: Chromium refuses scripts from loopback on pages
 * of public origins, which a deployed edge never is.)
 */
export async function startHostServer() {
  const server = createServer((request, response) => {
    const url = new URL(request.url, "http://host");
    const fixture = url.pathname.slice(1);
    if (!/^[a-z]+$/.test(fixture)) return response.writeHead(404).end();
    let html;
    try {
      html = readFileSync(new URL(`fixtures/${fixture}.html`, import.meta.url), "utf8");
    } catch {
      return response.writeHead(404).end();
    }
    const site = url.searchParams.get("site") ?? "";
    // Another edge on this machine, for tests that start their own.
    const edge = /^http:\/\/127\.0\.0\.1:\d+$/.test(url.searchParams.get("edge") ?? "") ? url.searchParams.get("edge") : EDGE;
    const headers = { "Content-Type": "text/html; charset=utf-8" };
    // The strictest policy a site can have with the widget: its own origin, ours, and
    // 'wasm-unsafe-eval' (the line docs/widget.md tells site owners to add).
    if (fixture === "strict") {
      const ws = edge.replace(/^http/, "ws");
      headers["Content-Security-Policy"] = `default-src 'self'; script-src 'self' ${edge} 'wasm-unsafe-eval'; connect-src 'self' ${edge} ${ws}`;
    }
    response.writeHead(200, headers);
    response.end(html.replaceAll("__EDGE__", edge).replaceAll("__SITE__", site));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** What axe-core (npm, the locked version) finds wrong under `root` on `tab` (the widget by default): `[{ id, nodes }]`. */
export async function axeViolations(tab, root = "[data-threadline]") {
  await tab.addScriptTag({ path: new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname });
  return tab.evaluate(async (root) => {
    const result = await window.axe.run(document.querySelector(root), { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  }, root);
}

/** A fresh "device": its own browser context, on `url`, the chat open; page errors collected. */
export async function openWidget(browser, url) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const errors = [];
  tab.on("pageerror", (error) => errors.push(error.message));
  await tab.goto(url);
  const widget = new Widget(tab);
  await widget.open();
  return { context, tab, widget, errors };
}

export class Widget {
  constructor(page) {
    this.page = page;
    this.host = page.locator("[data-threadline]");
    this.launcher = this.host.locator(".tl-launcher");
    this.panel = this.host.locator(".tl-panel");
    this.input = this.host.locator("textarea");
    this.notice = this.host.locator(".tl-notice");
    this.messages = this.host.locator("li.tl-message");
    this.handoff = this.host.locator(".tl-handoff");
  }

  /** Waits until the Wasm widget has replaced the loader's placeholder launcher. */
  async ready() {
    await this.page.locator("[data-threadline][data-state=ready]").waitFor({ state: "attached" });
  }

  async open() {
    // A click on the loader's launcher while the Wasm one replaces it can be lost (seen once in
    // CI on a busy machine): click the widget's own.
    await this.ready();
    await this.launcher.click();
    await this.panel.waitFor({ state: "visible" });
  }

  /** Sends `text` and waits until the bot has replied to it; returns the reply's row. */
  async ask(text) {
    const before = await this.page.locator("[data-threadline] li.tl-message[data-role=bot]").count();
    await this.input.fill(text);
    await this.input.press("Enter");
    const reply = this.host.locator("li.tl-message[data-role=bot]").nth(before);
    await reply.waitFor({ state: "visible", timeout: 15_000 });
    return reply;
  }

  async transcriptTexts() {
    return this.host.locator("li.tl-message .tl-bubble").allTextContents();
  }

  /** Waits until the transcript shows a message containing `text`. */
  async shows(text) {
    await this.host.locator("li.tl-message .tl-bubble", { hasText: text }).first().waitFor({ state: "visible", timeout: 15_000 });
  }

  /** The host page calls `Threadline('identify', { token })`, as after its user logs in. */
  async identify(token) {
    await this.page.evaluate((t) => window.Threadline("identify", { token: t }), token);
  }

  /** Accepts the offer to verify the typed email address, and enters the code that arrives. */
  async verifyEmail(address, code) {
    await this.host.locator("[data-action=send-code]").click();
    await this.host.locator(".tl-code").waitFor({ state: "visible" });
    await this.host.locator(".tl-code").fill(await code(address));
    await this.host.locator("[data-action=verify-code]").click();
  }
}
