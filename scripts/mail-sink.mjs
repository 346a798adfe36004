// A local stand-in for Postmark's Email API (https://postmarkapp.com/developer/api/email-api), so
// the demo and the tests send real HTTP requests in Postmark's wire format without leaving this
// machine. It checks each request as Postmark does (token header, JSON content type, From, To,
// a body) and answers in Postmark's shapes; it never delivers anything.
//
//   node scripts/mail-sink.mjs <port> <server token>
//
// It also stands in for Twilio's Messages API (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic auth with the
// same AccountSid, checked as Twilio does (auth, `To`/`From` in E.164, a `Body` of at most 1,600
// characters), answered in Twilio's shapes.
//
// And for Meta's WhatsApp Cloud API (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages):
// `POST /v21.0/{phone-number-id}/messages` with a Bearer token and a JSON text message, checked as
// the Graph API does (messaging_product, a digits-only `to`, type text, a body of at most 4,096
// characters).
//
// And for Telegram's Bot API (https://core.telegram.org/bots/api#sendmessage):
// `POST /bot<token>/sendMessage` with JSON `chat_id` and `text` (1 to 4,096 characters).
//
// And for Stripe's REST API (customers, subscriptions, invoices): scripts/stripe-stand-in.mjs;
// HubSpot's CRM API (contact search, notes): scripts/hubspot-stand-in.mjs; Linear's GraphQL API
// and webhooks: scripts/linear-stand-in.mjs; Slack's incoming webhooks: scripts/slack-stand-in.mjs.
//
// For tests and the demo:
//   GET  /_sink/messages?to=<address>   emails accepted (newest last), as JSON
//   GET  /_sink/sms?to=<number>         SMS accepted (newest last), as JSON
//   GET  /_sink/whatsapp?to=<digits>    WhatsApp messages accepted (newest last), as JSON
//   GET  /_sink/telegram?chat_id=<id>   Telegram messages accepted (newest last), as JSON
//   GET  /_sink/page?to=<psid>          Messenger/Instagram messages accepted (newest last)
//   POST /_sink/fail?count=<n>          make the next n sends fail as Postmark's outage would (500)
//   POST /_sink/fail?to=<recipient>&count=<n>[&status=<s>]
//                                       make the next n SMS or WhatsApp sends to that number fail
//                                       with HTTP s (default 503, an outage), as the provider would
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { hubspot } from "./hubspot-stand-in.mjs";
import { linear } from "./linear-stand-in.mjs";
import { slack } from "./slack-stand-in.mjs";
import { stripe } from "./stripe-stand-in.mjs";

const port = Number(process.argv[2] || 8798);
const token = process.argv[3] || "";
const messages = [];
const texts = [];
const whatsapps = [];
const telegrams = [];

function telegramSend(res, body) {
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    return reply(res, 400, { ok: false, error_code: 400, description: "Bad Request: can't parse JSON" });
  }
  if (message.chat_id === undefined) return reply(res, 400, { ok: false, error_code: 400, description: "Bad Request: chat_id is empty" });
  if (!message.text) return reply(res, 400, { ok: false, error_code: 400, description: "Bad Request: message text is empty" });
  if ([...message.text].length > 4096) return reply(res, 400, { ok: false, error_code: 400, description: "Bad Request: message is too long" });
  const sent = { message_id: telegrams.length + 1, chat: { id: message.chat_id }, date: Math.floor(Date.now() / 1000), text: message.text };
  telegrams.push(sent);
  if (process.env.MAIL_SINK_PRINT) console.log(`[telegram] to ${message.chat_id}: ${message.text.slice(0, 60)}`);
  reply(res, 200, { ok: true, result: sent });
}

function graphError(res, status, code, message) {
  reply(res, status, { error: { message, type: "OAuthException", code, fbtrace_id: randomUUID() } });
}

const pageMessages = [];

// Messenger's and Instagram's Send API: {recipient: {id}, messaging_type, message: {text}}.
function pageSend(res, message, pageId) {
  if (!message.recipient || !message.recipient.id) return graphError(res, 400, 100, "(#100) The parameter recipient is required");
  if (!["RESPONSE", "UPDATE", "MESSAGE_TAG"].includes(message.messaging_type)) return graphError(res, 400, 100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}");
  const text = message.message && message.message.text;
  if (!text) return graphError(res, 400, 100, "(#100) Message cannot be empty");
  if ([...text].length > 2000) return graphError(res, 400, 100, "(#100) Length of param message[text] must be less than or equal to 2000");
  const id = "m_" + randomUUID().replace(/-/g, "");
  pageMessages.push({ id, page_id: pageId, to: message.recipient.id, body: text });
  reply(res, 200, { recipient_id: message.recipient.id, message_id: id });
}

function whatsappMessages(req, res, body, phoneNumberId) {
  const auth = req.headers["authorization"] || "";
  if (!/^Bearer \S{8,}$/.test(auth)) return graphError(res, 401, 190, "Invalid OAuth access token.");
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    return graphError(res, 400, 100, "Invalid JSON");
  }
  if (message.recipient) return pageSend(res, message, phoneNumberId);
  if (message.messaging_product !== "whatsapp") return graphError(res, 400, 100, "(#100) The parameter messaging_product is required.");
  if (!/^[0-9]{8,15}$/.test(message.to || "")) return graphError(res, 400, 131009, "(#131009) Parameter value is not valid");
  if (message.type !== "text" || !message.text || !message.text.body) return graphError(res, 400, 100, "(#100) The parameter text['body'] is required.");
  if ([...message.text.body].length > 4096) return graphError(res, 400, 100, "(#100) Param text['body'] must be at most 4096 characters long.");
  const failure = takeFailure(message.to);
  if (failure) return graphError(res, failure, failure >= 500 ? 2 : 131026, failure >= 500 ? "Service temporarily unavailable" : "(#131026) Message undeliverable");
  const id = "wamid." + randomUUID().replace(/-/g, "");
  whatsapps.push({ id, phone_number_id: phoneNumberId, to: message.to, body: message.text.body });
  if (process.env.MAIL_SINK_PRINT) console.log(`[whatsapp] to ${message.to}: ${message.text.body.slice(0, 60)}`);
  reply(res, 200, { messaging_product: "whatsapp", contacts: [{ input: message.to, wa_id: message.to }], messages: [{ id }] });
}
const e164 = /^\+[1-9][0-9]{7,14}$/;

function twilioError(res, status, code, message) {
  reply(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
}

function twilioMessages(req, res, url, body, accountSid) {
  const auth = req.headers["authorization"] || "";
  const [user, password] = Buffer.from(auth.replace(/^Basic /, ""), "base64").toString().split(":");
  if (!auth.startsWith("Basic ") || user !== accountSid || !/^[0-9a-f]{32}$/.test(password || "")) {
    return twilioError(res, 401, 20003, "Authenticate");
  }
  if (!(req.headers["content-type"] || "").startsWith("application/x-www-form-urlencoded")) {
    return twilioError(res, 400, 21600, "Unsupported Content-Type");
  }
  const form = new URLSearchParams(body);
  const to = form.get("To") || "";
  const from = form.get("From") || "";
  const text = form.get("Body") || "";
  if (!e164.test(to)) return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
  if (!e164.test(from)) return twilioError(res, 400, 21212, `The 'From' number ${from} is not a valid phone number.`);
  if (!text) return twilioError(res, 400, 21602, "Message body is required.");
  if ([...text].length > 1600) return twilioError(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");
  const failure = takeFailure(to);
  if (failure) return twilioError(res, failure, failure >= 500 ? 20500 : 21610, failure >= 500 ? "Internal Server Error" : "Attempt to send to unsubscribed recipient");
  const sid = "SM" + randomUUID().replace(/-/g, "");
  const accepted = { sid, account_sid: accountSid, to, from, body: text, status: "queued", date_created: new Date().toUTCString() };
  texts.push(accepted);
  if (process.env.MAIL_SINK_PRINT) console.log(`[sms] to ${to}: ${text.slice(0, 60)}`);
  reply(res, 201, accepted);
}
let failures = 0;
// Failures asked for one recipient at a time (so parallel tests do not take each other's).
const failing = new Map();
function takeFailure(recipient) {
  const key = String(recipient).replace(/^\+/, "");
  const entry = failing.get(key);
  if (!entry || entry.count <= 0) return 0;
  entry.count -= 1;
  return entry.status;
}

// Postmark's address checks, loosely: one @, a dotted domain, no spaces.
const address = /^[^\s@<>]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;
const addressOf = (field) => {
  const m = /<([^>]+)>\s*$/.exec(field);
  return (m ? m[1] : field).trim();
};

function reply(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://sink");
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    if (req.method === "GET" && url.pathname === "/_sink/messages") {
      const to = (url.searchParams.get("to") || "").toLowerCase();
      return reply(res, 200, messages.filter((m) => !to || m.To.toLowerCase() === to));
    }
    if (req.method === "GET" && url.pathname === "/_sink/sms") {
      const to = url.searchParams.get("to") || "";
      return reply(res, 200, texts.filter((m) => !to || m.to === to));
    }
    if (req.method === "GET" && url.pathname === "/_sink/whatsapp") {
      const to = url.searchParams.get("to") || "";
      return reply(res, 200, whatsapps.filter((m) => !to || m.to === to));
    }
    if (req.method === "GET" && url.pathname === "/_sink/page") {
      const to = url.searchParams.get("to") || "";
      return reply(res, 200, pageMessages.filter((m) => !to || m.to === to));
    }
    if (req.method === "GET" && url.pathname === "/_sink/telegram") {
      const chat = url.searchParams.get("chat_id") || "";
      return reply(res, 200, telegrams.filter((m) => !chat || String(m.chat.id) === chat));
    }
    if (stripe(req, res, url, body, reply)) return;
    if (hubspot(req, res, url, body, reply)) return;
    if (linear(req, res, url, body, reply)) return;
    if (slack(req, res, url, body, reply)) return;
    const bot = /^\/bot([0-9]+:[A-Za-z0-9_-]{30,})\/sendMessage$/.exec(url.pathname);
    if (bot && req.method === "POST") return telegramSend(res, body);
    if (/^\/bot[^/]*\/sendMessage$/.test(url.pathname)) return reply(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const graph = /^\/v[0-9.]+\/([0-9]+)\/messages$/.exec(url.pathname);
    if (graph && req.method === "POST") return whatsappMessages(req, res, body, graph[1]);
    const twilio = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(url.pathname);
    if (twilio && req.method === "POST") return twilioMessages(req, res, url, body, twilio[1]);
    if (req.method === "POST" && url.pathname === "/_sink/fail" && url.searchParams.get("to")) {
      const key = url.searchParams.get("to").trim().replace(/^\+/, "");
      const entry = { count: Number(url.searchParams.get("count") || 1), status: Number(url.searchParams.get("status") || 503) };
      failing.set(key, entry);
      return reply(res, 200, { failing: entry });
    }
    if (req.method === "POST" && url.pathname === "/_sink/fail") {
      failures = Number(url.searchParams.get("count") || 1);
      return reply(res, 200, { failing: failures });
    }
    if (url.pathname !== "/email") return reply(res, 404, { ErrorCode: 404, Message: "Not found" });
    if (req.method !== "POST") return reply(res, 405, { ErrorCode: 405, Message: "Method not allowed" });
    if (!token || req.headers["x-postmark-server-token"] !== token) {
      return reply(res, 401, { ErrorCode: 10, Message: "Request does not contain a valid Server token." });
    }
    if (!(req.headers["accept"] || "").includes("application/json") ||
        !(req.headers["content-type"] || "").startsWith("application/json")) {
      return reply(res, 422, { ErrorCode: 409, Message: "JSON data required. Set Accept and Content-Type to application/json." });
    }
    let email;
    try {
      email = JSON.parse(body);
    } catch {
      return reply(res, 422, { ErrorCode: 402, Message: "Received invalid JSON input." });
    }
    if (!email.From || !address.test(addressOf(email.From))) {
      return reply(res, 422, { ErrorCode: 300, Message: "Invalid 'From' address." });
    }
    if (!email.To || !address.test(addressOf(email.To))) {
      return reply(res, 422, { ErrorCode: 300, Message: "Invalid 'To' address." });
    }
    if (!email.TextBody && !email.HtmlBody) {
      return reply(res, 422, { ErrorCode: 300, Message: "Provide either email TextBody or HtmlBody or both." });
    }
    if (failures > 0) {
      failures -= 1;
      return reply(res, 500, { ErrorCode: 100, Message: "Maintenance" });
    }
    const accepted = { ...email, MessageID: randomUUID(), SubmittedAt: new Date().toISOString() };
    messages.push(accepted);
    if (process.env.MAIL_SINK_PRINT) {
      console.log(`[mail] to ${email.To}: ${email.Subject}`);
    }
    reply(res, 200, { To: email.To, SubmittedAt: accepted.SubmittedAt, MessageID: accepted.MessageID, ErrorCode: 0, Message: "OK" });
  });
});

server.listen(port, "127.0.0.1", () => {
  if (!process.env.MAIL_SINK_QUIET) console.log(`mail sink (Postmark API stand-in) on http://127.0.0.1:${port}`);
});
