"""Prepares the running worker for the schemathesis run: two fresh sites (one whose admin key the
run may rotate), rate limits opened up, a visitor session with a conversation waiting for a
person, and a staff key. Prints `export NAME=value` lines for scripts/schemathesis.

Reads THREADLINE_URL and THREADLINE_OPERATOR_KEY. Standard library only."""

import json
import os
import secrets
import shlex
import sys
import urllib.request

BASE = os.environ["THREADLINE_URL"].rstrip("/")
OPERATOR = os.environ["THREADLINE_OPERATOR_KEY"]


def call(method, path, key=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def site(name):
    made = call("POST", "/v1/sites", OPERATOR, {"id": name, "name": "Contract test " + name})
    return made["admin_key"]


run = secrets.token_hex(4)
main, spare = f"contract-{run}", f"contract-{run}-spare"
admin = site(main)
site(spare)
# The run sends thousands of requests from one address: open the limits wide (the limits have
# their own API tests).
wide = {"burst": 1_000_000, "per_hour": 10_000_000}
names = ["session_messages", "ip_messages", "site_messages", "ip_sessions", "site_sessions", "ip_codes", "site_codes"]
call("PATCH", f"/v1/sites/{main}", admin, {"rate_limits": {n: wide for n in names}})
call("PUT", f"/v1/sites/{main}/channels/telegram", admin,
     {"bot_token": "123456:" + "A" * 35, "secret_token": "contract-" + run, "username": "contract_bot"})
session = call("POST", f"/v1/sites/{main}/sessions")["token"]
call("POST", f"/v1/sites/{main}/conversation/messages", session, {"id": "m1", "text": "My invoice is wrong"})
call("POST", f"/v1/sites/{main}/conversation/handoff", session, {"id": "h1"})
staff = call("POST", f"/v1/sites/{main}/staff-keys", admin, {"name": "Contract"})["key"]
queue = call("GET", f"/v1/sites/{main}/queue", staff)["queue"]
if not queue:
    sys.exit("prepare: the handoff did not reach the queue")
conversation = queue[0]["conversation"]

for name, value in {
    "ST_SITE": main,
    "ST_SPARE_SITE": spare,
    "ST_ADMIN_KEY": admin,
    "ST_STAFF_KEY": staff,
    "ST_SESSION": session,
    "ST_CONVERSATION": conversation,
    "ST_TELEGRAM_SECRET": "contract-" + run,
}.items():
    print(f"export {name}={shlex.quote(value)}")
