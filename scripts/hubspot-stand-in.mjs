// A local stand-in for the parts of HubSpot's CRM API the edge uses
// (https://developers.hubspot.com/docs/api/crm/contacts, .../crm/notes):
// `POST /crm/v3/objects/contacts/search` and `POST /crm/v3/objects/notes`. It checks requests as
// HubSpot does (a Bearer private app token, JSON bodies, filterGroups of known operators, `limit`
// 1 to 200, a note's `hs_timestamp` and body, associations to an existing contact with a known
// HUBSPOT_DEFINED type) and answers in HubSpot's shapes (`results`, `status: "error"` with a
// `category`). Served by scripts/mail-sink.mjs.
//
// For tests:
//   POST /_sink/hubspot/contacts  {"email", "firstname"?, …}   adds a contact; answers it (with `id`)
//   GET  /_sink/hubspot/notes?contact=<id>                      the notes associated with a contact
//   POST /_sink/hubspot/fail?count=<n>&status=<s>[&match=<text>] the next n API calls (whose body
//                                                               contains text) answer HTTP s

const contacts = [];
const notes = [];
let failing = { count: 0, status: 500, match: "" };
const OPERATORS = ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"];

function problem(reply, res, status, category, message) {
  reply(res, status, { status: "error", message, correlationId: crypto.randomUUID(), category });
}

export function hubspot(req, res, url, body, reply) {
  if (req.method === "POST" && url.pathname === "/_sink/hubspot/contacts") {
    const given = JSON.parse(body || "{}");
    const contact = { id: String(1000 + contacts.length), properties: { ...given }, createdAt: new Date().toISOString(), archived: false };
    contacts.push(contact);
    reply(res, 200, contact);
    return true;
  }
  if (req.method === "GET" && url.pathname === "/_sink/hubspot/notes") {
    const contact = url.searchParams.get("contact");
    reply(res, 200, notes.filter((n) => !contact || n.associations.some((a) => a.to.id === contact)));
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/hubspot/fail") {
    failing = { count: Number(url.searchParams.get("count") || 1), status: Number(url.searchParams.get("status") || 500), match: url.searchParams.get("match") || "" };
    reply(res, 200, { failing });
    return true;
  }
  if (!url.pathname.startsWith("/crm/v3/objects/")) return false;
  if (!/^Bearer [A-Za-z0-9_-]{16,}$/.test(req.headers["authorization"] || "")) {
    problem(reply, res, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview");
    return true;
  }
  if (req.method !== "POST") {
    problem(reply, res, 405, "METHOD_NOT_ALLOWED", `${req.method} is not supported here`);
    return true;
  }
  if (!(req.headers["content-type"] || "").startsWith("application/json")) {
    problem(reply, res, 415, "VALIDATION_ERROR", "Content-Type must be application/json");
    return true;
  }
  if (failing.count > 0 && body.includes(failing.match)) {
    failing.count -= 1;
    problem(reply, res, failing.status, "INTERNAL_ERROR", "internal error (a stand-in outage)");
    return true;
  }
  let request;
  try {
    request = JSON.parse(body);
  } catch {
    problem(reply, res, 400, "VALIDATION_ERROR", "Invalid input JSON on line 1");
    return true;
  }
  if (url.pathname === "/crm/v3/objects/contacts/search") {
    const limit = request.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      problem(reply, res, 400, "VALIDATION_ERROR", "limit must be between 1 and 200");
      return true;
    }
    const filters = (request.filterGroups || []).flatMap((g) => g.filters || []);
    const bad = filters.find((f) => !OPERATORS.includes(f.operator) || typeof f.propertyName !== "string");
    if (bad) {
      problem(reply, res, 400, "VALIDATION_ERROR", `There was a problem with the request: invalid filter ${JSON.stringify(bad)}`);
      return true;
    }
    const matches = (c) =>
      (request.filterGroups || []).length === 0 ||
      request.filterGroups.some((g) => (g.filters || []).every((f) => f.operator !== "EQ" || String(c.properties[f.propertyName] ?? "").toLowerCase() === String(f.value).toLowerCase()));
    const wanted = request.properties || ["email", "firstname", "lastname"];
    const results = contacts.filter(matches).slice(0, limit).map((c) => ({
      id: c.id,
      properties: Object.fromEntries([...wanted, "hs_object_id", "createdate", "lastmodifieddate"].map((p) => [p, p === "hs_object_id" ? c.id : c.properties[p] ?? null])),
      createdAt: c.createdAt,
      updatedAt: c.createdAt,
      archived: false,
    }));
    reply(res, 200, { total: results.length, results });
    return true;
  }
  if (url.pathname === "/crm/v3/objects/notes") {
    const props = request.properties || {};
    if (!props.hs_timestamp || Number.isNaN(Number(props.hs_timestamp)) && Number.isNaN(Date.parse(props.hs_timestamp))) {
      problem(reply, res, 400, "VALIDATION_ERROR", "Property values were not valid: hs_timestamp is required (ms or ISO 8601)");
      return true;
    }
    if (typeof props.hs_note_body !== "string" || props.hs_note_body.length === 0 || props.hs_note_body.length > 65536) {
      problem(reply, res, 400, "VALIDATION_ERROR", "Property values were not valid: hs_note_body must be 1 to 65,536 characters");
      return true;
    }
    for (const association of request.associations || []) {
      const type = (association.types || [])[0] || {};
      if (type.associationCategory !== "HUBSPOT_DEFINED" || type.associationTypeId !== 202) {
        problem(reply, res, 400, "VALIDATION_ERROR", "invalid association type: a note is associated with a contact by HUBSPOT_DEFINED type 202");
        return true;
      }
      if (!contacts.some((c) => c.id === String(association.to?.id))) {
        problem(reply, res, 404, "OBJECT_NOT_FOUND", `No contact with id ${association.to?.id} exists`);
        return true;
      }
    }
    const note = { id: String(5000 + notes.length), properties: props, associations: request.associations || [], createdAt: new Date().toISOString(), archived: false };
    notes.push(note);
    reply(res, 201, { id: note.id, properties: props, createdAt: note.createdAt, updatedAt: note.createdAt, archived: false });
    return true;
  }
  problem(reply, res, 404, "OBJECT_NOT_FOUND", `Unknown path ${url.pathname}`);
  return true;
}
