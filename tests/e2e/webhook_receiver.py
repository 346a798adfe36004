"""A staff tool's webhook endpoint, verifying with the reference Standard Webhooks library (PyPI
`standardwebhooks`, installed by scripts/setup into target/pylib). Prints one JSON line per
request: {"verified": true, "id", "event"} or {"verified": false, "error"}.

Usage: python3 webhook_receiver.py   (prints its port first: {"port": N}, then reads the endpoint's
whsec_ secret, given when the endpoint is registered, as one line on standard input)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook

verifier = None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            event = verifier.verify(body, dict(self.headers.items()))
            line = {"verified": True, "id": self.headers.get("webhook-id"), "event": event}
            status = 204
        except Exception as error:  # the reference library's refusal, reported to the test
            line = {"verified": False, "error": str(error)}
            status = 400
        print(json.dumps(line), flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
verifier = Webhook(sys.stdin.readline().strip())
server.serve_forever()
