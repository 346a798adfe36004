// Starts `wrangler dev` (workerd) for a bench script on `port` with empty state in `state`, extra
// `--var NAME:VALUE` arguments in `vars`, and waits until it answers /healthz. Returns
// `{ base, stop }`; the edge is also stopped when the process exits.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function startWrangler(port, state, vars = []) {
  rmSync(state, { recursive: true, force: true });
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--log-level", "warn", "--show-interactive-dev-session=false"];
  const edge = spawn(join(root, "node_modules/.bin/wrangler"), [...args, ...vars.flatMap((v) => ["--var", v])], {
    cwd: join(root, "edge"),
    detached: true,
    stdio: "ignore",
    env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` },
  });
  const stop = () => {
    try {
      process.kill(-edge.pid, "SIGTERM");
    } catch {}
  };
  process.on("exit", stop);
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
    if (performance.now() - started > 90_000) {
      stop();
      throw new Error("wrangler dev did not start within 90 s");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, stop };
}

// `json(method, path, headers, body)` against the edge at `base`: the parsed JSON reply, or an
// error naming the request, its status and the reply's body.
export function jsonClient(base) {
  return async (method, path, headers, body) => {
    const response = await fetch(base + path, { method, headers, body });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
}
