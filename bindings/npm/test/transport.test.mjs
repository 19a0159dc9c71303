// The npm package's HTTP in Node: the global `fetch` (undici), through
// gloo-net, and `options.fetch`. Each test starts its own small server on
// 127.0.0.1 that answers exactly as the case needs (raw bytes where the
// case is about framing). HTTP itself (framing, connection reuse, content
// codings) is fetch's job: what is tested here is what the package promises
// on top of it (headers, bodies read whole, errors that say what failed, no
// hang, no process kept alive, pages in order, memory let go of).
//
//   npm run test:node       (at the repository root)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

import { repoRoot, requireBuiltPackage, runChild, withTimeout } from './helpers.mjs';

requireBuiltPackage();
const { Client, PagewiseError } = await import('pagewise');

const noRetry = { maxRetries: 0 };
const closers = [];
after(async () => {
  // Last opened, first closed: a server's connections before the server.
  for (const close of closers.reverse()) await close();
});

/** Listens on 127.0.0.1 (a free port); resolves to the port; closed after the tests. */
async function listen(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  closers.push(() => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  }));
  return server.address().port;
}

/**
 * A raw HTTP/1.1 server: `onRequest(req, socket, conn)` per request head
 * read (`req`: `{ method, path, lines, headers, body }`; `headers` lowercased,
 * the last of a name; `conn`: `{ id, requests }` of its connection). It
 * writes the answer itself. `log` lists every request as `{ conn, ...req }`.
 */
async function rawServer(onRequest) {
  const log = [];
  const sockets = new Set();
  let conns = 0;
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const conn = { id: ++conns, requests: 0 };
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method, path] = lines[0].split(' ');
        const headers = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length).toString('utf8');
        buf = buf.subarray(end + 4 + length);
        conn.requests += 1;
        const req = { method, path, lines: lines.slice(1), headers, body };
        log.push({ conn: conn.id, ...req });
        onRequest(req, socket, conn);
      }
    });
  });
  const port = await listen(server);
  closers.push(async () => {
    for (const s of sockets) s.destroy();
  });
  return { url: `http://127.0.0.1:${port}`, port, log, connections: () => conns };
}

/** The bytes of an answer: status 200 unless named, `Content-Length` added. */
function answer(body, headers = {}, status = 200) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = [`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Status'}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  head.push(`Content-Length: ${bytes.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), bytes]);
}

const json = (value, headers = {}) => answer(JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });

async function rejectsWith(promise, kind) {
  try {
    await withTimeout(promise, 20_000, `a ${kind} error`);
  } catch (e) {
    assert.ok(e instanceof PagewiseError, `not a PagewiseError: ${e?.stack ?? e}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected a ${kind} error, got success`);
}

test('headers: fetch\'s own, a pagewise User-Agent in Node; the caller\'s own win', async () => {
  const s = await rawServer((req, socket) => socket.write(json({ ok: true })));
  const plain = new Client({ baseUrl: `${s.url}/`, retry: noRetry });
  assert.deepEqual(await plain.get('one'), { ok: true });
  const first = s.log[0];
  assert.equal(first.method, 'GET');
  assert.equal(first.path, '/one');
  assert.equal(first.headers.host, `127.0.0.1:${s.port}`);
  assert.match(first.headers['accept-encoding'], /gzip/);
  assert.match(first.headers['user-agent'], /^pagewise\/\d+\.\d+\.\d+$/);
  assert.ok(first.headers.accept, 'an Accept header');
  assert.equal(first.headers['content-length'], undefined, 'a GET has no body');

  const own = new Client({
    baseUrl: `${s.url}/`,
    headers: { 'User-Agent': 'mine/1', 'Accept-Encoding': 'identity' },
    retry: noRetry,
  });
  await own.get('two');
  const lines = s.log[1].lines.map((l) => l.toLowerCase());
  assert.deepEqual(lines.filter((l) => l.startsWith('user-agent:')), ['user-agent: mine/1']);
  assert.deepEqual(lines.filter((l) => l.startsWith('accept-encoding:')), ['accept-encoding: identity']);
  assert.equal(lines.filter((l) => l.startsWith('host:')).length, 1);
});

test('gzip, x-gzip, deflate and br bodies are decoded, with Content-Length or chunked', async () => {
  const encode = {
    gzip: gzipSync,
    'x-gzip': gzipSync,
    deflate: deflateSync,
    br: brotliCompressSync,
    // Sent by some servers as deflate: no zlib wrapper (fetch reads it).
    'raw-deflate': deflateRawSync,
    // Two codings, gzip applied first.
    'gzip, br': (b) => brotliCompressSync(gzipSync(b)),
  };
  const header = (enc) => (enc === 'raw-deflate' ? 'deflate' : enc);
  const s = await rawServer((req, socket) => {
    const u = new URL(req.path, 'http://x');
    const [, , rawEnc, mode] = u.pathname.split('/');
    const enc = decodeURIComponent(rawEnc ?? '');
    if (u.pathname.startsWith('/pages/')) {
      // `/pages/gzip/items?offset=&limit=`: a top-level array of 25 records in all.
      const offset = Number(u.searchParams.get('offset'));
      const limit = Number(u.searchParams.get('limit'));
      const ids = [];
      for (let id = offset + 1; id <= Math.min(offset + limit, 25); id++) ids.push({ id, name: `record ${id} ✓` });
      socket.write(answer(gzipSync(JSON.stringify(ids)), { 'Content-Encoding': 'gzip' }));
      return;
    }
    if (u.pathname.startsWith('/empty')) {
      // No body names no coding it could be decoded from.
      socket.write('HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n');
      return;
    }
    const body = encode[enc](Buffer.from(JSON.stringify({ enc, text: 'é'.repeat(5000) })));
    if (mode === 'chunked') {
      const half = body.length >> 1;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: ${header(enc)}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (const part of [body.subarray(0, half), body.subarray(half)]) {
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write('\r\n');
      }
      socket.write('0\r\n\r\n');
    } else {
      socket.write(answer(body, { 'Content-Encoding': header(enc) }));
    }
  });
  const c = new Client({ baseUrl: `${s.url}/`, retry: noRetry });
  for (const enc of Object.keys(encode)) {
    for (const mode of ['length', 'chunked']) {
      const got = await c.get(`enc/${encodeURIComponent(enc)}/${mode}`);
      assert.equal(got.enc, enc, `${enc} ${mode}`);
      assert.equal(got.text, 'é'.repeat(5000), `${enc} ${mode}`);
    }
  }
  const [deleted] = await c.deleteMany('empty', [{ id: 1 }]);
  assert.equal(deleted.ok, true, deleted.error?.message);
  const pages = new Client({ baseUrl: `${s.url}/pages/gzip/`, pageSize: 10, retry: noRetry });
  const records = await pages.list('items');
  assert.deepEqual(records.map((r) => r.id), Array.from({ length: 25 }, (_, i) => i + 1));
  assert.equal(records[24].name, 'record 25 ✓');
});

test('a body that cannot be decoded or is cut short, or no answer at all, is a transport error, not a hang', async () => {
  const s = await rawServer((req, socket) => {
    if (req.path === '/bad-gzip') {
      socket.write(answer('this is not gzip', { 'Content-Encoding': 'gzip' }));
    } else if (req.path === '/cut') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"partial":');
      setTimeout(() => socket.destroy(), 20);
    } else if (req.path === '/cut-chunked') {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2,');
      setTimeout(() => socket.destroy(), 20);
    } else {
      socket.destroy();
    }
  });
  const c = new Client({ baseUrl: `${s.url}/`, retry: noRetry, timeoutMs: 10_000 });
  const bad = await rejectsWith(c.get('bad-gzip'), 'transport');
  assert.match(bad.message, /reading the body failed/);
  assert.equal(bad.url, `${s.url}/bad-gzip`);
  for (const path of ['cut', 'cut-chunked']) {
    const cut = await rejectsWith(c.get(path), 'transport');
    assert.match(cut.message, /reading the body failed/, path);
  }
  const none = await rejectsWith(c.get('no-answer'), 'transport');
  assert.match(none.message, /fetch failed/);
});

test('a connection dropped with the request unanswered: a GET is retried, a POST without an idempotency key is not sent twice', async () => {
  // The first request for `/b` (and the first POST) has its connection
  // dropped unanswered; everything else is answered.
  const dropped = new Set();
  const dropsTheSecondOnTheFirst = (req, socket) => {
    const what = req.method === 'POST' ? 'POST' : req.path;
    if ((what === '/b' || what === 'POST') && !dropped.has(what)) {
      dropped.add(what);
      socket.destroy();
      return;
    }
    socket.write(json(req.method === 'POST' ? { id: 7 } : { path: req.path }));
  };
  const s = await rawServer(dropsTheSecondOnTheFirst);
  const c = new Client({ baseUrl: `${s.url}/`, retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 20 } });
  assert.deepEqual(await c.get('a'), { path: '/a' });
  // Sent again (by fetch itself, or by the retry policy): the GET succeeds.
  assert.deepEqual(await c.get('b'), { path: '/b' });
  assert.deepEqual(s.log.map((r) => r.path), ['/a', '/b', '/b']);

  const w = await rawServer(dropsTheSecondOnTheFirst);
  const cw = new Client({ baseUrl: `${w.url}/`, retry: noRetry });
  await cw.get('warm');
  const [outcome] = await withTimeout(
    cw.insertMany('items', [{ name: 'once' }], { idempotencyHeader: null }),
    20_000,
    'insertMany',
  );
  assert.equal(outcome.ok, false, 'the POST that may have reached the server is not sent again');
  assert.equal(outcome.error.kind, 'transport', outcome.error.message);
  assert.equal(w.log.filter((r) => r.method === 'POST').length, 1);
  assert.equal(w.log.find((r) => r.method === 'POST').headers['content-length'], String(Buffer.byteLength(w.log.find((r) => r.method === 'POST').body)));
});

test('redirects are followed (to another origin where allowOrigins allows); Authorization goes to the same origin only', async () => {
  const other = await rawServer((req, socket) => socket.write(json({ from: 'other', path: req.path })));
  const s = await rawServer((req, socket) => {
    if (req.path === '/away') socket.write(answer('', { Location: `${other.url}/landed` }, 302));
    else if (req.path === '/here') socket.write(answer('', { Location: '/landed-here' }, 307));
    else socket.write(json({ from: 'same', path: req.path }));
  });
  const options = { baseUrl: `${s.url}/`, auth: { type: 'bearer', token: 's3cret' }, retry: noRetry };
  const c = new Client(options);
  assert.deepEqual(await c.get('here'), { from: 'same', path: '/landed-here' });
  assert.equal(s.log.at(-1).headers.authorization, 'Bearer s3cret');
  await rejectsWith(c.get('away'), 'origin');
  assert.equal(other.log.length, 0);
  const allowed = new Client({ ...options, allowOrigins: [other.url] });
  assert.deepEqual(await allowed.get('away'), { from: 'other', path: '/landed' });
  assert.equal(other.log.at(-1).headers.authorization, undefined);
});

test('cancelling a request in flight closes its connection', async () => {
  let closed;
  const gone = new Promise((resolve) => { closed = resolve; });
  const s = await rawServer((req, socket) => {
    socket.on('close', closed);
    // Never answers.
  });
  const c = new Client({ baseUrl: `${s.url}/`, retry: noRetry });
  const controller = new AbortController();
  const pending = c.get('slow', { signal: controller.signal });
  while (s.log.length === 0) await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await rejectsWith(pending, 'cancelled');
  await withTimeout(gone, 5_000, 'the connection to close');
});

test('options.fetch: every request goes through it, with a signal that times out', async () => {
  const server = createHttpServer((req, res) => {
    if (req.url.startsWith('/hang')) return; // never answers
    const u = new URL(req.url, 'http://x');
    const offset = Number(u.searchParams.get('offset') ?? 0);
    const ids = [];
    for (let id = offset + 1; id <= Math.min(offset + 5, 12); id++) ids.push({ id });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ids));
  });
  const port = await listen(server);
  const calls = [];
  const fetchFn = (url, init) => {
    calls.push({ url, init });
    return fetch(url, init);
  };
  const c = new Client({ baseUrl: `http://127.0.0.1:${port}/`, pageSize: 5, fetch: fetchFn, retry: noRetry, timeoutMs: 200 });
  const records = await withTimeout(c.list('items'), 20_000, 'list');
  assert.deepEqual(records.map((r) => r.id), Array.from({ length: 12 }, (_, i) => i + 1));
  assert.equal(calls.length, 3);
  const { init } = calls[0];
  assert.equal(init.method, 'GET');
  assert.ok(init.headers instanceof Headers, String(init.headers));
  assert.equal(init.redirect, 'manual', 'in Node a redirect is an answer the core follows');
  assert.equal(init.body, null);
  assert.ok(init.signal instanceof AbortSignal);

  const e = await rejectsWith(c.get('hang'), 'timeout');
  assert.match(e.message, /200 ?ms/);
  assert.equal(calls.at(-1).init.signal.aborted, true, 'the signal was aborted');

  assert.throws(() => new Client({ baseUrl: 'http://127.0.0.1:9/', fetch: 'fetch' }), (err) => {
    assert.equal(err.kind, 'config');
    assert.match(err.message, /options\.fetch must be a function/);
    return true;
  });
});

test('https: a certificate Node trusts works, a self-signed one is refused', async (t) => {
  let openssl = true;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    openssl = false;
  }
  if (!openssl) {
    t.skip('openssl is not installed: cannot make a certificate');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pagewise-tls-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    // A body of 300 kB comes in many reads of the TLS socket.
    const text = req.url === '/big' ? 'ü'.repeat(150_000) : undefined;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tls: true, path: req.url, text }));
  });
  let handshakes = 0;
  server.on('secureConnection', () => { handshakes += 1; });
  const port = await listen(server);
  const url = `https://127.0.0.1:${port}/`;

  // gloo-net keeps the name and message of fetch's error, not its cause
  // (which names the certificate): "fetch failed".
  const refused = await rejectsWith(new Client({ baseUrl: url, retry: noRetry }).get('x'), 'transport');
  assert.match(refused.message, /fetch failed/);

  // Node reads NODE_EXTRA_CA_CERTS at start-up: a child process trusts the certificate.
  const out = await runChild(dir, `const c = new Client({ baseUrl: ${JSON.stringify(url)}, retry: { maxRetries: 0 } });
const big = [await c.get('big'), await c.get('big')].map((b) => b.text === 'ü'.repeat(150_000));
console.log(JSON.stringify({ ...(await c.get('secure')), big }));
`, { env: { NODE_EXTRA_CA_CERTS: cert }, ms: 20_000, what: 'the https child' });
  assert.deepEqual(JSON.parse(out), { tls: true, path: '/secure', big: [true, true] });
  // How many connections carried them is fetch's business (undici's pool).
  assert.ok(handshakes >= 1);
});

test('pages that come in before an earlier one wait unparsed, then come out in page order', async () => {
  // 200 records in pages of 10: page 2 (offset 10) answers after 300 ms, the
  // first answer for offset 30 is a 503; the rest answer at once. The pages
  // after page 2 come in early and wait (unparsed) for it.
  const N = 200;
  let failed503 = false;
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const offset = Number(u.searchParams.get('offset') ?? 0);
    const limit = Number(u.searchParams.get('limit') ?? 10);
    if (offset === 30 && !failed503) {
      failed503 = true;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      return;
    }
    const data = [];
    for (let id = offset + 1; id <= Math.min(offset + limit, N); id++) data.push({ id, name: `r${id}` });
    const send = () => res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': String(N) })
      .end(JSON.stringify({ data }));
    if (offset === 10) setTimeout(send, 300);
    else send();
  });
  const port = await listen(server);
  const c = new Client({
    baseUrl: `http://127.0.0.1:${port}/`,
    recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
    pageSize: 10,
    concurrency: 8,
    retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50 },
  });
  const { records, report } = await withTimeout(c.listWithReport('items'), 20_000, 'the sweep');
  assert.deepEqual(records.map((r) => r.id), Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(report.complete, true);
  assert.equal(report.retries.serverError, 1);

  // Leaving early while pages wait for page 2: nothing hangs, and the next
  // sweep of the same client is whole.
  const seen = [];
  for await (const r of c.stream('items')) {
    seen.push(r.id);
    if (r.id === 5) break;
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  // Pages parsed for the sweep left early are let go of (held by the
  // module's JavaScript until the Rust side takes or drops them).
  const { pagewiseHeldCount } = await transportModule();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(pagewiseHeldCount(), 0);
  const again = await withTimeout(c.list('items'), 20_000, 'a second sweep');
  assert.equal(again.length, N);
  assert.deepEqual(again.map((r) => r.id), Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(pagewiseHeldCount(), 0);
});

// The transport's JavaScript (shipped with the module), as the module uses it.
async function transportModule() {
  const snippets = join(repoRoot, 'bindings/npm/wasm/snippets');
  const [snippet] = readdirSync(snippets)
    .map((d) => join(snippets, d, 'src/transport/fetch/pages.js'))
    .filter((f) => existsSync(f));
  assert.ok(snippet, 'the transport\'s JavaScript is in the build');
  return import(pathToFileURL(snippet).href);
}

test('answers framed every way HTTP/1.1 allows are read', async () => {
  const chunked = (parts, trailer = '') => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${
    parts.map((p, i) => `${Buffer.byteLength(p).toString(16)}${i === 0 ? ';ext=1' : ''}\r\n${p}\r\n`).join('')}0\r\n${trailer}\r\n`;
  const s = await rawServer(async (req, socket) => {
    const name = req.path.slice(1);
    const body = JSON.stringify({ name });
    switch (name) {
      case 'chunked':
        socket.write(chunked([body.slice(0, 5), body.slice(5)], 'X-Checksum: 1\r\n'));
        break;
      case 'no-reason':
        socket.write(`HTTP/1.1 200\r\ncontent-length:${body.length}\r\n\r\n${body}`);
        break;
      case 'dribble': {
        // The head and body a byte at a time, across turns of the event loop.
        const bytes = json({ name, text: 'ü'.repeat(50) });
        for (let i = 0; i < bytes.length; i++) {
          socket.write(bytes.subarray(i, i + 1));
          await new Promise((r) => setImmediate(r));
        }
        break;
      }
      case 'until-close':
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${body}`);
        break;
      case 'http10':
        socket.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        break;
      case 'close':
        socket.write(json({ name }, { Connection: 'close' }));
        break;
      case 'extra':
        // An answer, then bytes nobody asked for.
        socket.write(Buffer.concat([json({ name }), Buffer.from('HTTP/1.1 200 OK\r\n')]));
        break;
      default:
        socket.write(json({ name }));
    }
  });
  const c = new Client({ baseUrl: `${s.url}/`, retry: noRetry });
  // (An interim 1xx answer unasked is an error to undici: not here.)
  const order = ['a', 'chunked', 'no-reason', 'dribble', 'b', 'until-close', 'c', 'http10', 'd', 'close', 'e', 'extra', 'f'];
  for (const name of order) {
    const got = await c.get(name);
    assert.equal(got.name, name);
    if (name === 'dribble') assert.equal(got.text, 'ü'.repeat(50));
  }
  // Which connection each went on is fetch's business (undici's pool).
  assert.deepEqual(s.log.map((r) => r.path.slice(1)), order);
});

test('answers that are not HTTP/1.1 as framed are errors, never a hang; memory is not taken as a head announces it', async () => {
  const s = await rawServer((req, socket) => {
    const head = (lines) => socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    switch (req.path) {
      // Neither has the blank line that ends a head: found out at once,
      // not at the timeout.
      case '/not-http': socket.write('SSH-2.0-OpenSSH_9.6\r\n'); break;
      case '/bare-lf': socket.write('HTTP/1.1 200 OK\nContent-Length: 2\n\n{}'); break;
      // A head that announces 200 MB and never sends it.
      case '/big-announce': socket.write('HTTP/1.1 200 OK\r\nContent-Length: 200000000\r\n\r\n{'); break;
      case '/bad-length': head(['HTTP/1.1 200 OK', 'Content-Length: 12abc']); break;
      case '/two-lengths': head(['HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6']); socket.write('{}'); break;
      case '/bad-header': head(['HTTP/1.1 200 OK', 'Content Length: 5']); break;
      case '/huge-head': head(['HTTP/1.1 200 OK', `X-Big: ${'x'.repeat(70 * 1024)}`, 'Content-Length: 2']); break;
      case '/bad-chunk': socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'); break;
      case '/chunk-overrun': socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n0\r\n\r\n'); break;
      case '/switch': head(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket']); break;
      default: socket.write(json({ ok: true }));
    }
  });
  // fetch (undici) rejects most at once; it waits on a few (a 101 unasked,
  // a header name with a space): the request's timeout ends those.
  const c = new Client({ baseUrl: `${s.url}/`, retry: noRetry, timeoutMs: 2_000 });
  const paths = ['not-http', 'bare-lf', 'bad-length', 'two-lengths', 'bad-header', 'huge-head', 'bad-chunk', 'chunk-overrun', 'switch'];
  for (const path of paths) {
    try {
      await withTimeout(c.get(path), 10_000, path);
      assert.fail(`${path}: no error`);
    } catch (e) {
      assert.ok(e instanceof PagewiseError, `${path}: ${e?.stack ?? e}`);
      assert.ok(e.kind === 'transport' || e.kind === 'timeout', `${path}: ${e.kind}: ${e.message}`);
      assert.equal(e.url, `${s.url}/${path}`);
    }
  }
  // The client goes on: each of those connections was let go of.
  assert.deepEqual(await c.get('fine'), { ok: true });

  // Memory is taken as a body comes in, not as its head announces it.
  const before = process.memoryUsage().arrayBuffers;
  const big = new Client({ baseUrl: `${s.url}/`, retry: noRetry, timeoutMs: 1_000 });
  const waiting = Array.from({ length: 4 }, () => big.get('big-announce').catch((e) => e));
  while (s.log.filter((r) => r.path === '/big-announce').length < 4) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 100 * 1048576, `${(grown / 1048576).toFixed(0)} MiB held for 4 answers of 1 byte`);
  for (const e of await Promise.all(waiting)) assert.equal(e.kind, 'timeout', e.message);
});

test('pages that come in out of order keep every byte of every record', async () => {
  // 40 pages of 100 records of ~300 bytes (30 KB bodies), each page held
  // back a random while, so that they come in out of order and wait
  // unparsed in every order.
  const record = (id) => ({ id, text: `${id}:`.padEnd(250 + (id % 7), String.fromCharCode(97 + (id % 26))), n: id * 3 });
  const s = await rawServer((req, socket) => {
    const u = new URL(req.path, 'http://x');
    const offset = Number(u.searchParams.get('offset'));
    const limit = Number(u.searchParams.get('limit'));
    const data = [];
    for (let id = offset + 1; id <= Math.min(offset + limit, 4000); id++) data.push(record(id));
    setTimeout(() => socket.write(json({ data }, { 'X-Total-Count': 4000 })), Math.random() * 15);
  });
  const c = new Client({
    baseUrl: `${s.url}/`, pageSize: 100, concurrency: 8, recordsAt: '/data', retry: noRetry,
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
  });
  for (let round = 0; round < 2; round++) {
    let id = 0;
    for await (const r of c.stream('items')) {
      id += 1;
      assert.deepEqual(r, record(id));
    }
    assert.equal(id, 4000);
  }
});

test('idle connections never keep the process alive', async () => {
  const s = await rawServer((req, socket) => {
    socket.write(json({ name: req.path.slice(1) }, { 'Keep-Alive': 'timeout=30, max=100' }));
  });
  // A process whose requests are done ends, its kept-alive connection open
  // on the server's side (for 30 s, as the server said).
  const dir = mkdtempSync(join(tmpdir(), 'pagewise-idle-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const out = await runChild(dir, `const c = new Client({ baseUrl: ${JSON.stringify(`${s.url}/`)}, retry: { maxRetries: 0 } });
console.log(JSON.stringify([await c.get('long'), await c.get('long')]));
`, { ms: 10_000, what: 'the child to end' });
  assert.deepEqual(JSON.parse(out), [{ name: 'long' }, { name: 'long' }]);
});
