// A local stand-in for the parts of Stripe's REST API the edge reads (https://docs.stripe.com/api):
// `GET /v1/customers/{id}`, `GET /v1/customers?email=…`, `GET /v1/subscriptions?customer=…`,
// `GET /v1/invoices?customer=…`. It checks requests as Stripe does (a Bearer secret or restricted
// key, known query parameters and values, `limit` 1 to 100) and answers in Stripe's shapes: list
// objects, `resource_missing` errors, `invalid_request_error`s. Served by scripts/mail-sink.mjs.
//
// For tests:
//   POST /_sink/stripe/customers   {"id"?, "email", "name"?, "subscriptions"?: [...], "invoices"?: [...]}
//                                  adds or replaces a customer and its objects (Stripe's fields)
//   POST /_sink/stripe/fail?count=<n>&status=<s>[&match=<text>]
//                                  the next n API calls (whose path and query contain text, when
//                                  given) answer HTTP s (default 500)
//   POST /_sink/stripe/slow?count=<n>&ms=<ms>[&match=<text>]   the same, answered after ms
//   GET  /_sink/stripe/requests    the API calls received (method, path, query), oldest first

const customers = new Map();
const subscriptions = new Map();
const invoices = new Map();
const requests = [];
let failing = { count: 0, status: 500, match: "" };
let slow = { count: 0, ms: 0, match: "" };

// Whether a fault applies to this call (and uses one of its count).
function hits(fault, url) {
  if (fault.count <= 0 || !decodeURIComponent(url.pathname + url.search).includes(fault.match)) return false;
  fault.count -= 1;
  return true;
}

function error(reply, res, status, type, message, extra = {}) {
  reply(res, status, { error: { type, message, ...extra } });
}

function list(url, data) {
  return { object: "list", url, has_more: false, data };
}

function limitOf(url) {
  const raw = url.searchParams.get("limit");
  if (raw === null) return 10;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : null;
}

const STATUSES = ["active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"];

// Handles the request if it is Stripe's (or a test's control of it); false otherwise.
export function stripe(req, res, url, body, reply) {
  if (req.method === "POST" && url.pathname === "/_sink/stripe/customers") {
    const given = JSON.parse(body || "{}");
    const id = given.id || `cus_${Math.random().toString(36).slice(2, 16)}`;
    const customer = { id, object: "customer", email: given.email ?? null, name: given.name ?? null, created: Math.floor(Date.now() / 1000), livemode: false };
    customers.set(id, customer);
    subscriptions.set(id, (given.subscriptions || []).map((s, i) => ({ id: `sub_${id}_${i}`, object: "subscription", customer: id, created: i + 1, cancel_at_period_end: false, ...s })));
    invoices.set(id, (given.invoices || []).map((v, i) => ({ id: `in_${id}_${i}`, object: "invoice", customer: id, currency: "usd", created: i + 1, ...v })));
    reply(res, 200, customer);
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/stripe/fail") {
    failing = { count: Number(url.searchParams.get("count") || 1), status: Number(url.searchParams.get("status") || 500), match: url.searchParams.get("match") || "" };
    reply(res, 200, { failing });
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/stripe/slow") {
    slow = { count: Number(url.searchParams.get("count") || 1), ms: Number(url.searchParams.get("ms") || 5000), match: url.searchParams.get("match") || "" };
    reply(res, 200, { slow });
    return true;
  }
  if (req.method === "GET" && url.pathname === "/_sink/stripe/requests") {
    reply(res, 200, requests);
    return true;
  }
  if (!url.pathname.startsWith("/v1/customers") && !url.pathname.startsWith("/v1/subscriptions") && !url.pathname.startsWith("/v1/invoices")) {
    return false;
  }
  requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams) });
  const answer = () => respond(req, res, url, reply);
  if (hits(slow, url)) {
    setTimeout(answer, slow.ms);
  } else {
    answer();
  }
  return true;
}

function respond(req, res, url, reply) {
  const key = /^Bearer ((?:sk|rk)_(?:test|live)_[A-Za-z0-9_]{4,})$/.exec(req.headers["authorization"] || "");
  if (!key) {
    return error(reply, res, 401, "invalid_request_error", "Invalid API Key provided. You did not provide a valid API key (a Bearer sk_… or rk_… key).");
  }
  if (req.method !== "GET") {
    return error(reply, res, 405, "invalid_request_error", `Unrecognized request URL (${req.method}: ${url.pathname}).`);
  }
  if (hits(failing, url)) {
    return error(reply, res, failing.status, "api_error", "An unknown error occurred (a stand-in outage).");
  }
  const limit = limitOf(url);
  if (limit === null) {
    return error(reply, res, 400, "invalid_request_error", "Invalid integer: limit must be between 1 and 100.", { param: "limit" });
  }
  const one = /^\/v1\/customers\/([A-Za-z0-9_]+)$/.exec(url.pathname);
  if (one) {
    const customer = customers.get(one[1]);
    if (!customer) return error(reply, res, 404, "invalid_request_error", `No such customer: '${one[1]}'`, { code: "resource_missing", param: "id" });
    return reply(res, 200, customer);
  }
  if (url.pathname === "/v1/customers") {
    const email = url.searchParams.get("email");
    const found = [...customers.values()].filter((c) => email === null || c.email === email);
    return reply(res, 200, list("/v1/customers", found.slice(0, limit)));
  }
  const customer = url.searchParams.get("customer");
  if (url.pathname === "/v1/subscriptions") {
    const status = url.searchParams.get("status");
    if (status !== null && !STATUSES.includes(status)) {
      return error(reply, res, 400, "invalid_request_error", `Invalid status: must be one of ${STATUSES.join(", ")}`, { param: "status" });
    }
    let found = customer ? subscriptions.get(customer) || [] : [...subscriptions.values()].flat();
    if (status === null) found = found.filter((s) => s.status !== "canceled");
    else if (status !== "all") found = found.filter((s) => s.status === status);
    return reply(res, 200, list("/v1/subscriptions", [...found].reverse().slice(0, limit)));
  }
  if (url.pathname === "/v1/invoices") {
    const found = customer ? invoices.get(customer) || [] : [...invoices.values()].flat();
    return reply(res, 200, list("/v1/invoices", [...found].reverse().slice(0, limit)));
  }
  return error(reply, res, 404, "invalid_request_error", `Unrecognized request URL (GET: ${url.pathname}).`);
}
