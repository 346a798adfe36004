// The local secrets in edge/.dev.vars (written by scripts/setup), as an object.
import { readFileSync } from "node:fs";

export function devVars() {
  const text = readFileSync(new URL("../edge/.dev.vars", import.meta.url), "utf8");
  const lines = text.split("\n").filter((l) => !l.startsWith("#") && l.includes("="));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}
