"""schemathesis hooks: how to send a JSON Lines body (the description gives it as the array of
its lines)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def json_lines(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        return "".join(json.dumps(line, default=str) + "\n" for line in value).encode()
    # Not an array (a negative case): send it as a single line.
    return (json.dumps(value, default=str) + "\n").encode()
