// A local stand-in for the parts of Linear the edge uses (https://linear.app/developers):
// its GraphQL API's `issueCreate` mutation (`POST /graphql`), and its webhooks, which Linear's
// servers send when an issue changes. It checks requests as Linear does (an API key in
// `Authorization`, JSON with `query` and `variables`, the mutation's `IssueCreateInput`: a known
// team, a title, labels of that team) and answers in GraphQL's shapes (`data`, or `errors` with
// `extensions.code`). Served by scripts/mail-sink.mjs.
//
// For tests:
//   POST /_sink/linear/teams          {"id", "key"}           adds a team (its labels: {"labels": [ids]})
//   GET  /_sink/linear/issues                                  the issues created, newest last
//   POST /_sink/linear/webhook        {"team", "url", "secret"} where Linear sends the team's webhooks
//   POST /_sink/linear/issues/<id>/state?type=completed|canceled|started[&age_ms=<n>][&secret=<s>]
//        moves the issue and sends the signed `Issue` `update` webhook as Linear would (sent
//        `age_ms` ago; signed with `secret` instead, to forge one); answers what the receiver said
//   POST /_sink/linear/fail?count=<n>&status=<s>[&match=<text>] the next n API calls (whose body
//                                                              contains text) fail
//   POST /_sink/linear/slow?count=<n>&ms=<ms>[&match=<text>]    the next n API calls answer ms late

import { createHmac, randomUUID } from "node:crypto";

const teams = [];
const issues = [];
const webhooks = new Map();
let failing = { count: 0, status: 500, match: "" };
let slow = { count: 0, ms: 0, match: "" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATES = { completed: "Done", canceled: "Canceled", started: "In Progress", unstarted: "Todo", triage: "Triage" };

function errors(reply, res, status, code, message) {
  reply(res, status, { errors: [{ message, extensions: { code, type: code.toLowerCase().replace(/_/g, " "), userPresentableMessage: message } }] });
}

async function sendWebhook(issue, previousState, url) {
  const age = Number(url.searchParams.get("age_ms") || 0);
  const now = new Date(Date.now() - age);
  const body = JSON.stringify({
    action: "update",
    type: "Issue",
    actor: { id: randomUUID(), type: "user", name: "Dev Eloper" },
    createdAt: now.toISOString(),
    data: {
      id: issue.id,
      identifier: issue.identifier,
      number: issue.number,
      title: issue.title,
      description: issue.description,
      state: issue.state,
      teamId: issue.teamId,
      url: issue.url,
      updatedAt: now.toISOString(),
      completedAt: issue.state.type === "completed" ? now.toISOString() : null,
      canceledAt: issue.state.type === "canceled" ? now.toISOString() : null,
    },
    updatedFrom: { stateId: previousState.id, updatedAt: issue.createdAt },
    url: issue.url,
    organizationId: "4a5c3e5e-0000-4000-8000-000000000001",
    webhookTimestamp: now.getTime(),
    webhookId: "0b6f3e5e-0000-4000-8000-000000000002",
  });
  const webhook = webhooks.get(issue.teamId);
  const secret = url.searchParams.get("secret") || webhook.secret;
  const signature = createHmac("sha256", secret).update(body).digest("hex");
  const answer = await fetch(webhook.url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Linear-Delivery": randomUUID(),
      "Linear-Event": "Issue",
      "Linear-Signature": signature,
      "User-Agent": "Linear-Webhook",
    },
    body,
  });
  return { status: answer.status, body: await answer.text() };
}

export function linear(req, res, url, body, reply) {
  if (req.method === "POST" && url.pathname === "/_sink/linear/teams") {
    const team = { labels: [], ...JSON.parse(body || "{}") };
    teams.push(team);
    reply(res, 200, team);
    return true;
  }
  if (req.method === "GET" && url.pathname === "/_sink/linear/issues") {
    reply(res, 200, issues);
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/linear/webhook") {
    const given = JSON.parse(body || "{}");
    webhooks.set(given.team, given);
    reply(res, 200, { ok: true });
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/linear/fail") {
    failing = { count: Number(url.searchParams.get("count") || 1), status: Number(url.searchParams.get("status") || 500), match: url.searchParams.get("match") || "" };
    reply(res, 200, { failing });
    return true;
  }
  if (req.method === "POST" && url.pathname === "/_sink/linear/slow") {
    slow = { count: Number(url.searchParams.get("count") || 1), ms: Number(url.searchParams.get("ms") || 1000), match: url.searchParams.get("match") || "" };
    reply(res, 200, { slow });
    return true;
  }
  const move = /^\/_sink\/linear\/issues\/([^/]+)\/state$/.exec(url.pathname);
  if (req.method === "POST" && move) {
    const issue = issues.find((i) => i.id === move[1]);
    const type = url.searchParams.get("type") || "completed";
    if (!issue || !STATES[type] || !webhooks.has(issue.teamId)) {
      reply(res, 400, { error: !issue ? "no such issue" : !STATES[type] ? "unknown state type" : "no webhook set up for the issue's team" });
      return true;
    }
    const previous = issue.state;
    issue.state = { id: randomUUID(), name: STATES[type], type, color: "#5e6ad2" };
    sendWebhook(issue, previous, url).then(
      (answer) => reply(res, 200, answer),
      (error) => reply(res, 502, { error: String(error) }),
    );
    return true;
  }
  if (url.pathname !== "/graphql") return false;
  if (slow.count > 0 && body.includes(slow.match)) {
    slow.count -= 1;
    setTimeout(() => graphql(req, res, body, reply), slow.ms);
    return true;
  }
  return graphql(req, res, body, reply);
}

function graphql(req, res, body, reply) {
  if (req.method !== "POST") {
    errors(reply, res, 405, "BAD_REQUEST", "GraphQL requests are POSTed");
    return true;
  }
  const authorization = req.headers["authorization"] || "";
  if (!/^lin_api_[A-Za-z0-9]{32,}$/.test(authorization) && !/^Bearer [A-Za-z0-9_-]{20,}$/.test(authorization)) {
    errors(reply, res, 400, "AUTHENTICATION_ERROR", "Authentication required, not authenticated");
    return true;
  }
  if (!(req.headers["content-type"] || "").startsWith("application/json")) {
    errors(reply, res, 400, "BAD_REQUEST", "POST body missing, invalid Content-Type, or JSON object has no keys.");
    return true;
  }
  if (failing.count > 0 && body.includes(failing.match)) {
    failing.count -= 1;
    errors(reply, res, failing.status, "INTERNAL_SERVER_ERROR", "Internal server error (a stand-in outage)");
    return true;
  }
  let request;
  try {
    request = JSON.parse(body);
  } catch {
    errors(reply, res, 400, "BAD_REQUEST", "Unexpected token in JSON");
    return true;
  }
  if (typeof request.query !== "string" || !/mutation\b[^{]*\(\$input: IssueCreateInput!\)\s*\{\s*issueCreate\(input: \$input\)/.test(request.query)) {
    errors(reply, res, 400, "GRAPHQL_VALIDATION_FAILED", "This stand-in knows only the issueCreate(input: $input) mutation");
    return true;
  }
  const input = request.variables?.input || {};
  const team = teams.find((t) => t.id === input.teamId);
  if (!UUID.test(input.teamId || "") || !team) {
    errors(reply, res, 200, "INVALID_INPUT", `Argument Validation Error: teamId ${JSON.stringify(input.teamId)} is not a team of this workspace`);
    return true;
  }
  if (typeof input.title !== "string" || input.title.trim() === "" || input.title.length > 255) {
    errors(reply, res, 200, "INVALID_INPUT", "Argument Validation Error: title must be 1 to 255 characters");
    return true;
  }
  if (input.description !== undefined && typeof input.description !== "string") {
    errors(reply, res, 200, "INVALID_INPUT", "Argument Validation Error: description must be a string");
    return true;
  }
  const unknownLabel = (input.labelIds || []).find((id) => !team.labels.includes(id));
  if (unknownLabel) {
    errors(reply, res, 200, "INVALID_INPUT", `Argument Validation Error: label ${unknownLabel} is not a label of team ${team.key}`);
    return true;
  }
  const number = issues.filter((i) => i.teamId === team.id).length + 1;
  const identifier = `${team.key}-${number}`;
  const slug = input.title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  const issue = {
    id: randomUUID(),
    identifier,
    number,
    title: input.title,
    description: input.description || "",
    labelIds: input.labelIds || [],
    teamId: team.id,
    state: { id: randomUUID(), name: "Triage", type: "triage", color: "#fc7840" },
    url: `https://linear.app/stand-in/issue/${identifier}/${slug}`,
    createdAt: new Date().toISOString(),
    authorization: authorization.startsWith("Bearer") ? "oauth" : "api_key",
  };
  issues.push(issue);
  reply(res, 200, { data: { issueCreate: { success: true, issue: { id: issue.id, identifier, url: issue.url, title: issue.title } } } });
  return true;
}
