// pagewise's npm package in headless Chromium, driven by playwright-core.
//
// Serves a page (bench/node/chromium.html) that imports the built package
// (bindings/npm/index.js, which fetches its .wasm) and bench/node/common.mjs,
// from a small static server on 127.0.0.1; the page then runs the scenario
// against the test API server (another origin: CORS). The JSON line printed
// is the page's own measurement (elapsed time from the first request to the
// last record); the orchestrator measures the browser's process tree.
//
// HTTP/1.1 and Chromium: at most 6 connections per host and port (the
// socket pool's per-group limit, not configurable by a page or a flag), so
// a concurrency above 6 against an HTTP/1.1 API runs at 6 in the browser.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseArgs } from './common.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const served = ['/bench/node/', '/bindings/npm/'];
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!served.some((p) => path.startsWith(p)) || !types[extname(path)]) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': types[extname(path)], 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let browser;
let server;
try {
  const args = parseArgs(process.argv.slice(2));
  server = await serve();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // BENCH_PAGE: another page of bench/node to run instead (a reference,
  // such as chromium-fetch-floor.html).
  const pageName = process.env.BENCH_PAGE ?? 'chromium.html';
  if (!/^[\w.-]+\.html$/.test(pageName)) throw new Error(`BENCH_PAGE: not a page name: ${pageName}`);
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/node/${pageName}`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 }).catch((e) => {
    throw new Error(`the page did not load the package: ${errors.join('; ') || e}`);
  });
  const out = await page.evaluate((a) => window.runBench(a), args);
  const client = pageName === 'chromium.html' ? 'pagewise-chromium' : pageName.replace(/\.html$/, '');
  console.log(JSON.stringify({ client, scenario: args.scenario, ...out, ok: true }));
} catch (e) {
  console.error(`error: ${e?.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  server?.close();
}
