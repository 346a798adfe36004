// Shortens the names the widget's Wasm and its JS glue know each other by, and keeps the two in
// step. wasm-bindgen names every import after what it wraps plus a hash
// (`__wbg_setAttribute_f75317b2b5cabfb4`, from module "./widget_bg.js") and every closure
// trampoline after its full Rust type; the hashes do not compress, and each name is written twice,
// once in the Wasm and once in the glue. binaryen's `--minify-imports-and-exports-and-modules`
// renames them in the Wasm (to `a`, `b`, … from module `a`) and prints what it renamed; this
// script applies the same renaming to the glue. −3.8 KB brotli when the widget is opened.
//
//   node scripts/minify-wasm-names.mjs <wasm-opt> <in.wasm> <glue.js> <out.wasm> <out-glue.js>
//
// It fails, rather than writing a glue that cannot load the Wasm, if any name it renames is not
// where it expects it: each import defined once in the glue, the old names gone afterwards.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmOpt, inWasm, inGlue, outWasm, outGlue] = process.argv.slice(2);
if (!outGlue) {
  console.error('usage: minify-wasm-names.mjs <wasm-opt> <in.wasm> <glue.js> <out.wasm> <out-glue.js>');
  process.exit(2);
}
const fail = (why) => {
  console.error(`minify-wasm-names: ${why}`);
  process.exit(1);
};

const printed = execFileSync(
  wasmOpt,
  [inWasm, '--minify-imports-and-exports-and-modules', '-o', outWasm],
  { encoding: 'utf8', maxBuffer: 16 << 20 },
);
const map = JSON.parse(printed.slice(printed.indexOf('{')));

// The map names each import's old module and name and its new name; the new module comes from
// the renamed Wasm itself.
const renamed = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(outWasm)));
const newModuleOf = new Map(renamed.map((i) => [i.name, i.module]));
const modules = new Map();
for (const [oldModule, , short] of map.imports) {
  const newModule = newModuleOf.get(short);
  if (newModule === undefined) fail(`import ${short} is not in the renamed Wasm`);
  if (modules.has(oldModule) && modules.get(oldModule) !== newModule) {
    fail(`module ${oldModule} was renamed two ways`);
  }
  modules.set(oldModule, newModule);
}

const escape = (s) => s.replace(/[$.*+?^()[\]{}|\\/]/g, '\\$&');
const word = (s) => `(?<![\\w$])${escape(s)}(?![\\w$])`;
let glue = readFileSync(inGlue, 'utf8');
const replaceAll = (pattern, by, expected) => {
  const re = new RegExp(pattern, 'g');
  const found = (glue.match(re) || []).length;
  if (expected !== undefined && found !== expected) fail(`${pattern}: found ${found}, expected ${expected}`);
  glue = glue.replace(re, by);
};
// Imports are the keys of one object per module: `name: function(…)`.
for (const [, name, short] of map.imports) replaceAll(`${word(name)}(?=:)`, `${short}`, 1);
// Modules are the keys of the object handed to `WebAssembly.instantiate`.
for (const [from, to] of modules) replaceAll(`${escape(JSON.stringify(from))}(?=:)`, JSON.stringify(to), 1);
// Exports are read as properties of `wasm`, the instance's exports.
for (const [name, short] of map.exports) replaceAll(`(?<=\\bwasm\\.)${escape(name)}(?![\\w$])`, short);
for (const [, name] of map.imports) if (new RegExp(word(name)).test(glue)) fail(`import ${name} is still named in the glue`);
for (const [name] of map.exports) {
  if (new RegExp(`\\bwasm\\.${escape(name)}(?![\\w$])`).test(glue)) fail(`export ${name} is still read`);
}
writeFileSync(outGlue, glue);
console.log(`  renamed ${map.imports.length} imports from ${modules.size} module(s), ${map.exports.length} exports`);
