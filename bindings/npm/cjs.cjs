// CommonJS entry of pagewise: the package is ESM and loads its WebAssembly
// with a top-level await, which `require()` cannot wait for. `init()` loads
// it (once) and resolves to the ESM module's exports:
//
//   const { init } = require('pagewise/cjs');
//   const { Client, PagewiseError } = await init();
'use strict';

let loading;

/** Loads pagewise (once); resolves to its exports (`Client`, `PagewiseError`, ...). */
function init() {
  loading ??= import('./index.js');
  return loading;
}

module.exports = { init };
