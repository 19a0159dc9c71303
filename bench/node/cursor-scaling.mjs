// Time per page of an npm-package sweep that follows next links (one page at
// a time), over more and more pages: flat when the cost of a page does not
// grow with the sweep (item 17 of BENCHMARKS.md's "What was changed").
//
//   cargo build --release -p pagewise-testserver && npm run build
//   node bench/node/cursor-scaling.mjs [PAGES...]      # default: 500 2000 6000
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '../../bindings/npm/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const counts = process.argv.slice(2).map(Number);
const server = spawn(`${root}target/release/pagewise-testserver`,
  ['--port', '0', '--records', '100000', '--page-size', '10'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (\S+)/m);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`the test server exited (${code})`)));
  });
  for (const pages of counts.length ? counts : [500, 2000, 6000]) {
    const client = new Client({
      baseUrl: `${url}/next/`,
      recordsAt: '/items',
      pagination: { type: 'next', from: { pointer: '/links/next' } },
      pageSize: 10,
    });
    const started = performance.now();
    let records = 0;
    for await (const _ of client.stream('items')) {
      if (++records >= pages * 10) break;
    }
    const perPage = ((performance.now() - started) / pages).toFixed(2);
    console.log(`${pages} pages: ${perPage} ms per page`);
  }
} finally {
  server.kill();
}
