// Creates (or refreshes) a site on a running edge and loads its knowledge base through the public
// admin API, the way a site owner would. Idempotent: an existing site gets its configuration
// updated and a fresh admin key, which is saved to .threadline/<site>.admin-key.
// Usage: node scripts/seed.mjs <base url> <site.json> <articles.jsonl>
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devVars } from "./dev-vars.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [base, sitePath, articlesPath] = process.argv.slice(2);
const site = JSON.parse(readFileSync(sitePath, "utf8"));
const articles = readFileSync(articlesPath, "utf8");
const vars = devVars();
const operator = { Authorization: `Bearer ${vars.OPERATOR_KEY}`, "Content-Type": "application/json" };

async function call(method, path, headers, body) {
  const response = await fetch(base + path, { method, headers, body });
  const json = await response.json().catch(() => ({}));
  return { status: response.status, json };
}
function fail(what, { status, json }) {
  console.error(`seed: ${what} failed with ${status}: ${JSON.stringify(json)}`);
  process.exit(1);
}

let created = await call("POST", "/v1/sites", operator, JSON.stringify(site));
let adminKey;
if (created.status === 201) {
  adminKey = created.json.admin_key;
} else if (created.status === 409) {
  const rotated = await call("POST", `/v1/sites/${site.id}/admin-key`, operator);
  if (rotated.status !== 200) fail("rotating the admin key", rotated);
  adminKey = rotated.json.admin_key;
  const admin = { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" };
  const updated = await call("PATCH", `/v1/sites/${site.id}`, admin, JSON.stringify({ name: site.name, allowed_origins: site.allowed_origins }));
  if (updated.status !== 200) fail("updating the site", updated);
} else {
  fail("creating the site", created);
}
mkdirSync(join(root, ".threadline"), { recursive: true });
writeFileSync(join(root, ".threadline", `${site.id}.admin-key`), adminKey + "\n", { mode: 0o600 });

const loaded = await call("PUT", `/v1/sites/${site.id}/articles`, { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/x-ndjson" }, articles);
if (loaded.status !== 200) fail("loading articles", loaded);
console.log(`  site "${site.id}": ${loaded.json.n_articles} articles loaded (admin key in .threadline/${site.id}.admin-key)`);
