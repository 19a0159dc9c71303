// `npm pack` / `npm publish` of pagewise: builds the WebAssembly
// (bindings/build.sh: cargo, the wasm32 target, wasm-bindgen-cli), copies the
// repository's license files in, and refuses to pack when a file the package
// needs is missing (a package without its .wasm cannot load).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

if (process.env.PAGEWISE_SKIP_WASM_BUILD !== '1') {
  execFileSync('bash', [join(root, 'bindings', 'build.sh')], { stdio: 'inherit' });
}
for (const name of ['LICENSE-MIT', 'LICENSE-APACHE']) {
  copyFileSync(join(root, name), join(here, name));
}
const needed = ['wasm/pagewise_wasm.js', 'wasm/pagewise_wasm_bg.wasm', 'wasm/snippets', 'LICENSE-MIT', 'LICENSE-APACHE'];
const missing = needed.filter((f) => !existsSync(join(here, f)));
if (missing.length > 0 || statSync(join(here, 'wasm/pagewise_wasm_bg.wasm')).size === 0) {
  console.error(`error: refusing to pack pagewise without ${missing.join(', ') || 'a non-empty wasm module'}: run bindings/build.sh`);
  process.exit(1);
}
