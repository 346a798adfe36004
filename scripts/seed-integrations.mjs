// Sets up the demo site's integrations against the local stand-ins (scripts/mail-sink.mjs serves
// them), so the demo shows them working without reaching any real service: Stripe and HubSpot
// know a paying customer (alex@larkspur.example, plan Pro), Linear has a team to file bugs in,
// and a Slack channel (the stand-in's incoming webhook) hears of escalations and churn risks.
// Idempotent: settings are replaced; the Slack endpoint is added once.
// Usage: node scripts/seed-integrations.mjs <edge url> <site id> <stand-in url>
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [base, site, standIn] = process.argv.slice(2);
const adminKey = readFileSync(join(root, ".threadline", `${site}.admin-key`), "utf8").trim();
const admin = { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" };
const TEAM = "5e1d0c1a-0000-4000-8000-00000000de01";
const LINEAR_SECRET = "lin_wh_demo_larkspur_0123456789";
const SLACK = `${standIn}/services/TDEMO/BDEMO/larkspur`;

async function call(url, method, body, headers = admin) {
  const response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    console.error(`seed-integrations: ${method} ${url} answered ${response.status}: ${JSON.stringify(json)}`);
    process.exit(1);
  }
  return json;
}
const api = (method, path, body) => call(`${base}/v1/sites/${site}${path}`, method, body);
const sink = (path, body) => call(`${standIn}/_sink/${path}`, "POST", body, { "Content-Type": "application/json" });

const email = "alex@larkspur.example";
await sink("stripe/customers", {
  email, name: "Alex Rivera",
  subscriptions: [{ status: "active", items: { data: [{ price: { nickname: "Pro" } }] } }],
  invoices: [
    { number: "LARK-0042", status: "paid", amount_due: 4900, amount_paid: 4900 },
    { number: "LARK-0043", status: "open", amount_due: 4900, amount_paid: 0 },
  ],
});
await api("PUT", "/integrations/stripe", { api_key: "sk_test_larkspur_demo_0000", webhook_secret: "whsec_larkspur_demo_0000" });
await sink("hubspot/contacts", { email, firstname: "Alex", lastname: "Rivera", company: "Rivera Design", lifecyclestage: "customer" });
await api("PUT", "/integrations/hubspot", { access_token: "pat-demo-larkspur-00000000" });
await sink("linear/teams", { id: TEAM, key: "LARK" });
await sink("linear/webhook", { team: TEAM, url: `${base}/v1/sites/${site}/integrations/linear/webhook`, secret: LINEAR_SECRET });
await api("PUT", "/integrations/linear", { api_key: "lin_api_demolarkspur0123456789abcdefghij", team_id: TEAM, webhook_secret: LINEAR_SECRET });
const { webhooks } = await api("GET", "/webhooks");
if (!webhooks.some((w) => w.url === SLACK)) {
  await api("POST", "/webhooks", { url: SLACK, format: "slack", events: ["conversation.escalated", "call.incoming", "customer.churn_risk"] });
}
console.log(`  integrations: Stripe, HubSpot (customer ${email}, plan Pro), Linear (team LARK), Slack (${SLACK}), all local stand-ins`);
