// Runs the knowledge-index benchmark (shared/benches/index.rs, built for wasm32-wasip1) in Node's
// V8, the engine workerd runs the worker's Wasm in, so the Wasm numbers sit beside the native
// ones. Usage: node scripts/wasm-bench.mjs <bench.wasm> [sizes...]
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";

const [file, ...sizes] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", args: ["index", ...sizes], env: {} });
const module = await WebAssembly.compile(await readFile(file));
wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject()));
