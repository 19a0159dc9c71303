// Test helpers shared by the Node and browser suites: the Rust test API
// server as a child process, a static file server, bounded waits.

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (`/work/main`). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Rejects after `ms` with a message naming what was waited for. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `code` as a script of its own (`dir/<name>.mjs`) in a child Node
 * process, after `prelude` and an import of the package's `Client`, with
 * `env` added, within `ms`; resolves to what it printed on stdout once it
 * exited with 0 (and kills a child that outlives `ms`).
 */
export async function runChild(dir, code, { env = {}, ms = 30_000, what = 'the child', name = 'child', prelude = '' } = {}) {
  const script = join(dir, `${name}.mjs`);
  const index = pathToFileURL(join(repoRoot, 'bindings/npm/index.js')).href;
  writeFileSync(script, `${prelude}const { Client } = await import(${JSON.stringify(index)});\n${code}`);
  const child = spawn(process.execPath, [script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const code = await withTimeout(exited, ms, what);
    if (code !== 0) throw new Error(`${what} exited with ${code}: ${err}`);
  } finally {
    if (child.exitCode === null) child.kill();
  }
  return out;
}

/**
 * The system's headless Chromium (playwright-core downloads no browser;
 * CHROMIUM_PATH overrides /usr/bin/chromium), with the flags a container
 * needs and nothing phoning home.
 */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return withTimeout(
    chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    }),
    40_000,
    `Chromium (${executablePath}) to start`,
  );
}

/** Fails early, with the command to run, if the package was never built. */
export function requireBuiltPackage() {
  const wasm = join(repoRoot, 'bindings/npm/wasm/pagewise_wasm_bg.wasm');
  if (!existsSync(wasm)) {
    throw new Error(`${wasm} is missing: run \`npm run build\` at the repository root first`);
  }
}

/**
 * Runs the server under a small shell that stops it once its stdin closes:
 * when `close()` ends it, and also when this process dies without cleaning
 * up (a test file killed by the runner's timeout), so no server is left behind.
 */
const WATCHDOG = 'trap \'kill "$pid" 2>/dev/null; wait "$pid"\' EXIT; "$@" & pid=$!; read -r _; exit 0';

/**
 * Starts `pagewise-testserver --port 0 ...` (built by `cargo build -p
 * pagewise-testserver`) and resolves once it printed its URL.
 */
export async function startTestServer({ records = 2345, latencyMs = 1, extra = [] } = {}) {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target');
  const bin = join(targetDir, 'debug', 'pagewise-testserver');
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`cargo build -p pagewise-testserver\` first`);
  }
  const child = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, 'sh', bin,
      '--port', '0', '--records', String(records), '--latency-ms', String(latencyMs), ...extra],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  // Ending stdin of a shell that already exited must not crash the test.
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await withTimeout(
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`test server exited (${code}): ${stderr}`)));
    }),
    10_000,
    'the test server to listen',
  );
  return {
    url,
    /** `GET /_stats`: `{ requests, in_flight, max_in_flight, faults, throttled }`. */
    async stats() {
      const resp = await withTimeout(fetch(`${url}/_stats`), 5_000, '/_stats');
      return resp.json();
    },
    /** `POST /_reset`: zeroes the request counters of `/_stats`. */
    async resetStats() {
      const resp = await withTimeout(fetch(`${url}/_reset`, { method: 'POST' }), 5_000, '/_reset');
      if (!resp.ok) throw new Error(`POST /_reset: ${resp.status}`);
    },
    /**
     * `POST /_faults` (the `Faults` of tests/server/src/faults.rs, snake_case;
     * `{}` for none), then zeroes the counters of `/_stats`.
     */
    async setFaults(faults) {
      const resp = await withTimeout(
        fetch(`${url}/_faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(faults),
        }),
        5_000,
        '/_faults',
      );
      if (!resp.ok) throw new Error(`POST /_faults: ${resp.status} ${await resp.text()}`);
      await this.resetStats();
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // The watchdog shell stops the server when its stdin closes.
      child.stdin.end();
      try {
        await withTimeout(exited, 5_000, 'the test server to exit');
      } catch {
        child.kill('SIGKILL');
        await withTimeout(exited, 5_000, 'the test server to be killed');
      }
    },
  };
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
};

/** A static file server of `root` on 127.0.0.1, a free port. */
export async function startStaticServer(root = repoRoot) {
  const base = normalize(root.endsWith(sep) ? root : root + sep);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const file = normalize(join(base, path));
      if (!file.startsWith(base)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-store',
      });
      createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await withTimeout(
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    }),
    5_000,
    'the static server to listen',
  );
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      withTimeout(
        new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        5_000,
        'the static server to close',
      ),
  };
}

/** `[1, 2, ..., n]`. */
export const range = (n) => Array.from({ length: n }, (_, i) => i + 1);
