# Starting and stopping a local edge (`wrangler dev`, i.e. workerd) for scripts/demo and
# scripts/test. Source it; it defines start_edge and stop_edge.

# start_edge <port> <state dir> <log file>: starts the mail sink (a local Postmark stand-in, on
# port + 10) and wrangler dev in their own process groups, and waits until /healthz answers. Sets
# EDGE_PID, MAIL_PID and MAIL_URL. Extra `--var NAME:VALUE` arguments may come in EDGE_VARS;
# EDGE_LOG_LEVEL sets wrangler's (default warn; `log` shows console.log lines).
start_edge() {
  local port=$1 state log=$3 mail_port=$(($1 + 10))
  state=$(realpath -m "$2")
  for p in "$port" "$mail_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "port $p is already in use: stop whatever is listening there (another demo?) and retry" >&2
      return 1
    fi
  done
  mkdir -p "$state" "$(dirname "$log")"
  local mail_token
  mail_token=$(sed -n 's/^EMAIL_API_TOKEN=//p' edge/.dev.vars)
  MAIL_URL="http://127.0.0.1:$mail_port"
  MAIL_SINK_QUIET=1 setsid node_modules/.bin/node scripts/mail-sink.mjs "$mail_port" "$mail_token" \
    >"$(dirname "$log")/mail-sink.log" 2>&1 &
  MAIL_PID=$!
  (
    cd edge
    # npm's Node 22 (package "node") first on PATH: wrangler needs it; the system may have 20.
    export PATH="$PWD/../node_modules/.bin:$PATH"
    export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_LOG=warn
    exec setsid ../node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" \
      --persist-to "$state" --log-level "${EDGE_LOG_LEVEL:-warn}" --show-interactive-dev-session=false \
      --var "EMAIL_API_URL:$MAIL_URL" --var "ALLOW_LOOPBACK_WEBHOOKS:1" \
      --var "PUBLIC_URL:http://127.0.0.1:$port" --var "TWILIO_API_URL:$MAIL_URL" \
      --var "GRAPH_API_URL:$MAIL_URL" --var "TELEGRAM_API_URL:$MAIL_URL" --var "STRIPE_API_URL:$MAIL_URL" --var "HUBSPOT_API_URL:$MAIL_URL" --var "LINEAR_API_URL:$MAIL_URL" ${EDGE_VARS:-}
  ) >"$log" 2>&1 &
  EDGE_PID=$!
  local started=$SECONDS
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$EDGE_PID" 2>/dev/null; then
      echo "wrangler dev exited; its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    if [ $((SECONDS - started)) -gt 90 ]; then
      echo "wrangler dev did not answer within 90 s; its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  EDGE_STARTUP_SECONDS=$((SECONDS - started))
}

# stop_edge: stops the edge started by start_edge, with all its children (node, workerd), and the
# mail sink.
stop_edge() {
  if [ -n "${MAIL_PID:-}" ]; then
    kill -TERM "$MAIL_PID" 2>/dev/null || true
    MAIL_PID=
  fi
  if [ -n "${EDGE_PID:-}" ] && kill -0 "$EDGE_PID" 2>/dev/null; then
    kill -TERM -- "-$EDGE_PID" 2>/dev/null || kill -TERM "$EDGE_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$EDGE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$EDGE_PID" 2>/dev/null || true
  fi
  EDGE_PID=
}
