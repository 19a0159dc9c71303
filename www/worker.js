// The dashboard's module worker: the only place the WebAssembly module and
// the network are used. Speaks the protocol of ./lib/protocol.js.

import {
  TO_WORKER, FROM_WORKER, TICK_MS, ROWS_FLUSH_MAX, SAVE_MS, SAVE_MAX_ROWS,
  SAMPLE_MAX_CHARS, serializeError, columnsOf, idColumnsOf,
} from './lib/protocol.js';
import * as store from './lib/store.js';
import { exportJob } from './lib/export.js';
import { hintOf, hintText, probeNoCors } from './lib/hints.js';

// The npm package is imported dynamically: its module initialises the
// WebAssembly with a top-level await, and a module worker's messages that
// arrive while a static import is still evaluating reach no listener and are
// lost. The listener below is registered at once and waits for the package.
let Client, PRESETS, resolveOptions;
const loaded = import('../npm/index.js').then((m) => {
  ({ Client, PRESETS, resolveOptions } = m);
});

/** The running job: `{ abort: AbortController, done: Promise<void> }`, or null. */
let running = null;
/** The running test connection's AbortController, or null. */
let testing = null;

/** @param {object} msg */
function post(msg) {
  self.postMessage(msg);
}

/**
 * An error of the worker itself (not of the options or the API): kind
 * `internal`, so it gets no hint.
 * @param {string} message
 */
function workerError(message) {
  return Object.assign(new Error(message), { kind: 'internal' });
}

// ---- Credentials ---------------------------------------------------------

/**
 * The pagewise `auth` option of a config's auth, or undefined for none.
 * @param {import('./lib/protocol.js').AuthConfig|undefined} a
 */
function authOption(a) {
  if (!a || a.type === 'none') return undefined;
  if (a.type === 'bearer') return { type: 'bearer', token: String(a.token ?? '') };
  if (a.type === 'basic') return { type: 'basic', user: String(a.user ?? ''), password: String(a.password ?? '') };
  if (a.type === 'header') return { type: 'header', name: String(a.name ?? ''), value: String(a.value ?? '') };
  throw Object.assign(new Error(`unknown auth type: ${a.type}`), { kind: 'config' });
}

/**
 * Every form in which a configured secret could show up in a message.
 * @param {import('./lib/protocol.js').AuthConfig|undefined} a
 * @returns {string[]}
 */
function secretsOf(a) {
  const out = [];
  if (!a) return out;
  if (a.type === 'bearer') out.push(a.token);
  if (a.type === 'header') out.push(a.value);
  if (a.type === 'basic') {
    out.push(a.password);
    try { out.push(btoa(`${a.user}:${a.password}`)); } catch { /* not Latin-1 */ }
  }
  const forms = [];
  for (const s of out) {
    if (typeof s !== 'string' || s.length < 3) continue;
    forms.push(s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1));
  }
  return [...new Set(forms)].sort((x, y) => y.length - x.length);
}

/**
 * `s` with every secret replaced by `[redacted]`.
 * @param {string|null} s
 * @param {string[]} secrets
 * @returns {string|null}
 */
function redact(s, secrets) {
  if (typeof s !== 'string') return s;
  let out = s;
  for (const x of secrets) out = out.split(x).join('[redacted]');
  // An excerpt cut in the middle of a secret it echoes ends with the
  // secret's first characters: those go too.
  for (const x of secrets) {
    for (let k = Math.min(x.length - 1, out.length); k >= 4; k--) {
      if (out.endsWith(x.slice(0, k))) {
        out = out.slice(0, out.length - k) + '[redacted]';
        break;
      }
    }
  }
  return out;
}

// ---- Config → client -----------------------------------------------------

/**
 * The client options of a config (with its auth), resolved.
 * @param {import('./lib/protocol.js').Config} config
 */
function clientOptions(config) {
  const opts = { ...(config.client ?? {}) };
  delete opts.auth;
  const auth = authOption(config.auth);
  if (auth) opts.auth = auth;
  return opts;
}

/**
 * The concurrency the client was configured with (in a browser against an
 * `http:` base URL, at most 6).
 * @param {object} opts  client options
 */
function configuredConcurrency(opts) {
  let base = opts.baseUrl;
  try { base = resolveOptions(opts).baseUrl ?? base; } catch { /* checked by new Client */ }
  const c = typeof opts.concurrency === 'number' ? opts.concurrency : 8;
  return typeof base === 'string' && base.startsWith('http:') ? Math.min(c, 6) : c;
}

/**
 * The first page's URL for a probe, when the error has none.
 * @param {import('./lib/protocol.js').Config} config
 */
function guessUrl(config) {
  try {
    const base = resolveOptions(clientOptions({ ...config, auth: { type: 'none' } })).baseUrl;
    return new URL(config.collection ?? '', base).href;
  } catch {
    return null;
  }
}

/**
 * An error as a `SerializedError`, credentials redacted, with its hint
 * (probing the URL without CORS for a transport error).
 * @param {unknown} e
 * @param {import('./lib/protocol.js').Config|null} config
 */
async function describeError(e, config) {
  const err = serializeError(e);
  const secrets = secretsOf(config?.auth);
  err.message = redact(err.message, secrets) ?? '';
  err.excerpt = redact(err.excerpt, secrets);
  err.url = redact(err.url, secrets);
  let probe = null;
  let url = err.url;
  if (err.kind === 'transport' || (err.kind === 'internal' && /failed to fetch|networkerror/i.test(err.message))) {
    url = err.url ?? (config ? guessUrl(config) : null);
    probe = url ? await probeNoCors(url) : 'failed';
  }
  err.hint = hintOf(err, { probe, url, pageProtocol: self.location.protocol });
  err.hintText = hintText(err.hint, { origin: self.location.origin });
  return err;
}

/** JSON-clean copy (structured-cloneable, no wasm objects). */
function plain(v) {
  return v == null ? null : JSON.parse(JSON.stringify(v));
}

// ---- Handlers ------------------------------------------------------------

async function onHello() {
  let saved = null;
  try { saved = await store.getJob(); } catch { saved = null; }
  post({ type: FROM_WORKER.READY, presets: [...PRESETS], presetNeeds: presetNeeds(), saved });
}

/**
 * What each preset needs from the form: an `instance` (its base URL is
 * built from one) or a `baseUrl` (it has none of its own), asked of the
 * npm package rather than listed here.
 * @returns {Record<string, {instance: boolean, baseUrl: boolean}>}
 */
function presetNeeds() {
  const accepts = (opts) => { try { resolveOptions(opts); return true; } catch { return false; } };
  const out = {};
  for (const preset of PRESETS) {
    const own = accepts({ preset });
    const instance = !own && accepts({ preset, instance: 'acme' });
    out[preset] = { instance, baseUrl: !own && !instance };
  }
  return out;
}

/**
 * Test connection: the first page's shape, and the second page's URL.
 * @param {import('./lib/protocol.js').Config} config
 */
async function onTest(config) {
  const abort = new AbortController();
  testing = abort;
  const opts = clientOptions(config);
  let resolved = {};
  try { resolved = resolveOptions(opts); } catch { /* new Client says why */ }
  const client = new Client(opts);
  const list = { ...(config.list ?? {}) };
  list.concurrency = 1;
  list.retry = { maxRetries: 2, ...(list.retry ?? {}) };
  list.signal = abort.signal;
  const stream = client.pages(config.collection, list);
  /** @type {import('./lib/protocol.js').Shape|null} */
  let shape = null;
  try {
    for await (const page of stream) {
      if (!shape) {
        const records = page.records;
        let sample = records.length > 0 ? JSON.stringify(records[0], null, 2) : null;
        if (sample && sample.length > SAMPLE_MAX_CHARS) sample = sample.slice(0, SAMPLE_MAX_CHARS - 1) + '…';
        shape = {
          url: page.url,
          records: records.length,
          total: page.total ?? null,
          nextUrl: null,
          columns: columnsOf(records),
          sample,
          recordsAt: resolved.recordsAt ?? opts.recordsAt ?? '',
        };
        continue;
      }
      shape.nextUrl = page.url;
      break;
    }
  } finally {
    abort.abort();
    if (testing === abort) testing = null;
  }
  if (!shape) throw Object.assign(new Error('the collection answered no page'), { kind: 'decode' });
  post({ type: FROM_WORKER.TESTED, shape });
}

/**
 * Posts rows in messages of at most ROWS_FLUSH_MAX.
 * @param {'records'|'ids'} kind
 * @param {number} from
 * @param {string[]} rows
 * @param {string[]|null} columns  sent with the first message
 */
function postRows(kind, from, rows, columns) {
  for (let i = 0; i < rows.length || (i === 0 && columns); i += ROWS_FLUSH_MAX) {
    const msg = { type: FROM_WORKER.ROWS, kind, from: from + i, rows: rows.slice(i, i + ROWS_FLUSH_MAX) };
    if (columns && i === 0) msg.columns = columns;
    post(msg);
    if (rows.length === 0) break;
  }
}

/**
 * Re-sends the saved rows of a job (after a reload, or before a resume).
 * @param {import('./lib/protocol.js').SavedJob} job
 * @returns {Promise<number>}
 */
async function sendSavedRows(job) {
  let from = 0;
  await store.forEachChunk(job.id, (rows) => {
    postRows(job.kind, from, rows, from === 0 ? job.columns : null);
    from += rows.length;
  });
  return from;
}

async function onLoad() {
  const job = await store.getJob();
  const count = job ? await sendSavedRows(job) : 0;
  post({ type: FROM_WORKER.LOADED, count });
}

async function onDiscard() {
  await stopRunning();
  await store.clearAll();
  post({ type: FROM_WORKER.DISCARDED });
}

/** Aborts the running job and waits for its last save. */
async function stopRunning() {
  const r = running;
  if (!r) return;
  r.abort.abort();
  await r.done.catch(() => {});
}

/**
 * A new job record (no credentials: only the auth type).
 * @param {'records'|'ids'} kind
 * @param {import('./lib/protocol.js').Config} config
 */
function newJob(kind, config) {
  const { auth, ...rest } = config;
  return {
    id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    kind,
    createdAt: Date.now(),
    config: plain(rest),
    authType: auth?.type ?? 'none',
    checkpoint: null,
    rows: 0,
    pages: 0,
    elapsedMs: 0,
    status: 'running',
    columns: null,
    report: null,
    chunks: 0,
  };
}

/**
 * Runs a job: the shared frame of a sweep and an ids job (one at a time,
 * stop, ticks, flushes, the final message).
 * @param {import('./lib/protocol.js').Config} config
 * @param {(abort: AbortController) => Promise<object>} body  resolves to the `done` message
 */
async function runJob(config, body) {
  if (running) {
    throw workerError('a job is already running: stop it first');
  }
  const abort = new AbortController();
  let release;
  running = { abort, done: new Promise((r) => { release = r; }) };
  try {
    const msg = await body(abort);
    post(msg);
  } catch (e) {
    if (abort.signal.aborted) {
      post({ type: FROM_WORKER.STOPPED, records: running.records ?? 0 });
    } else {
      post({ type: FROM_WORKER.FAILED, error: await describeError(e, config) });
    }
  } finally {
    running = null;
    release();
  }
}

/**
 * A sweep over the collection, new (`job.checkpoint` null) or resumed.
 * @param {import('./lib/protocol.js').Config} config
 * @param {ReturnType<typeof newJob>} job  saved as it goes
 * @param {AbortController} abort
 */
async function sweep(config, job, abort) {
  const opts = clientOptions(config);
  const client = new Client(opts);
  const configured = configuredConcurrency(opts);
  const savedElapsed = job.elapsedMs;
  const rowsAtStart = job.rows;
  const started = performance.now();
  /** @type {import('../npm/index.js').Progress|null} */
  let progress = null;
  let pending = [];
  let checkpoint = job.checkpoint;
  let pages = job.pages;
  let rows = job.rows;
  running.records = job.rows;

  const elapsed = () => savedElapsed + (performance.now() - started);
  const tick = () => {
    const p = progress ?? {};
    let stats = {};
    try { stats = plain(client.pacingStats()) ?? {}; } catch { /* before the first request */ }
    post({
      type: FROM_WORKER.TICK,
      kind: 'records',
      t: elapsed(),
      progress: {
        records: job.rows,
        recordsTotal: p.total ?? p.recordsTotal ?? null,
        pages: job.pages,
        pagesTotal: p.pagesTotal ?? null,
        etaMs: p.etaMs ?? null,
        elapsedMs: elapsed(),
        retries: p.retries ?? 0,
        retriesByCause: p.retriesByCause ?? null,
        throttledMs: p.throttledMs ?? 0,
      },
      stats: { ...stats, configuredConcurrency: configured },
    });
  };

  // Saves the rows since the last flush with the checkpoint taken after
  // the page that ended them; only then are they posted to the page.
  const flush = async (status) => {
    const out = pending;
    pending = [];
    const from = job.rows;
    if (job.columns === null && out.length > 0) job.columns = columnsOf(out.slice(0, 50));
    const firstColumns = from === 0 && out.length > 0 ? job.columns : null;
    job.rows = rows;
    job.pages = pages;
    job.checkpoint = checkpoint;
    job.elapsedMs = elapsed();
    job.status = status;
    const seq = job.chunks;
    if (out.length > 0) job.chunks += 1;
    await store.saveFlush(job, seq, out);
    running.records = job.rows;
    if (out.length > 0) postRows('records', from, out, firstColumns);
  };

  const list = { ...(config.list ?? {}) };
  list.signal = abort.signal;
  list.onProgress = (p) => { progress = p; };
  if (checkpoint) list.resume = checkpoint;
  const stream = client.pages(config.collection, list);
  await pump(stream, (page) => {
    for (const r of page.records) pending.push(JSON.stringify(r));
    rows += page.records.length;
    pages += 1;
    // Every page taken counts as handed out: a resume fetches none of them.
    checkpoint = stream.checkpoint();
    return pending.length;
  }, flush, tick, abort);
  job.report = plain(stream.report);
  await flush('done');
  tick();
  return { type: FROM_WORKER.DONE, kind: 'records', report: job.report, records: job.rows, resumedFrom: rowsAtStart };
}

/**
 * The loop of a job: `take(item)` for each item of `stream` (it answers how
 * many rows wait to be saved); `flush('running')` at the first item at
 * least {@link SAVE_MS} after the last save, or once {@link SAVE_MAX_ROWS}
 * rows wait; `tick()` every {@link TICK_MS}. A failure (or a stop) saves
 * what was taken, as `failed` (or `stopped`), ticks once more and is
 * passed on. The caller saves the end (`flush('done')`).
 * @param {AsyncIterable<any>} stream
 * @param {(item: any) => number} take
 * @param {(status: string) => Promise<void>} flush
 * @param {() => void} tick
 * @param {AbortController} abort
 */
async function pump(stream, take, flush, tick, abort) {
  const timer = setInterval(tick, TICK_MS);
  let lastSave = performance.now();
  try {
    for await (const item of stream) {
      const waiting = take(item);
      if (performance.now() - lastSave >= SAVE_MS || waiting >= SAVE_MAX_ROWS) {
        await flush('running');
        lastSave = performance.now();
      }
    }
  } catch (e) {
    await flush(abort.signal.aborted ? 'stopped' : 'failed').catch(() => {});
    tick();
    throw e;
  } finally {
    clearInterval(timer);
  }
}

/**
 * `start`: a new sweep (the saved job is discarded).
 * @param {import('./lib/protocol.js').Config} config
 */
async function onStart(config) {
  await runJob(config, async (abort) => {
    await store.clearAll();
    const job = newJob('records', config);
    await store.putJob(job);
    return sweep(config, job, abort);
  });
}

/**
 * `resume`: the saved rows again, then the sweep from the saved checkpoint.
 * @param {import('./lib/protocol.js').Config} config
 */
async function onResume(config) {
  await runJob(config, async (abort) => {
    const job = await store.getJob();
    if (!job || job.kind !== 'records') {
      throw workerError('no saved sweep to resume');
    }
    if (job.status === 'done') {
      throw workerError('the saved sweep is complete: nothing to resume');
    }
    await sendSavedRows(job);
    job.status = 'running';
    // The saved sweep goes on with its saved options (the checkpoint
    // belongs to them); only the credentials come from the form.
    const auth = config.auth ?? { type: 'none' };
    job.authType = auth.type ?? 'none';
    return sweep({ ...job.config, auth }, job, abort);
  });
}

/**
 * The JSON text of one id's result.
 * @param {{ id: string, record?: unknown, error?: any }} f
 * @param {string[]} secrets
 */
function idResult(f, secrets) {
  if (!f.error) return { text: JSON.stringify({ id: f.id, result: 'found', status: 200, record: f.record }), result: 'found' };
  const e = f.error;
  if (e.kind === 'status' && e.status === 404) {
    return { text: JSON.stringify({ id: f.id, result: 'missing', status: 404 }), result: 'missing' };
  }
  const kind = e.kind ?? 'error';
  // pagewise's messages start with "<kind> error: "; the row says the kind once.
  const message = String(e.message ?? e).replace(new RegExp(`^${kind} error: `), '');
  const error = redact(`${kind}: ${message}`, secrets);
  return { text: JSON.stringify({ id: f.id, result: 'error', status: e.status ?? null, error }), result: 'error' };
}

/**
 * `ids`: one GET per id from the template; results saved as the current job.
 * @param {import('./lib/protocol.js').Config} config
 * @param {string[]} ids
 */
async function onIds(config, ids) {
  await runJob(config, async (abort) => {
    const list = ids.map((s) => String(s).trim()).filter((s) => s.length > 0);
    await store.clearAll();
    const job = newJob('ids', config);
    await store.putJob(job);
    const opts = clientOptions(config);
    const client = new Client(opts);
    const configured = configuredConcurrency(opts);
    const secrets = secretsOf(config.auth);
    const started = performance.now();
    const summary = { found: 0, missing: 0, error: 0 };
    let progress = null;
    let pending = [];
    running.records = 0;
    const tick = () => {
      const p = progress ?? {};
      let stats = {};
      try { stats = plain(client.pacingStats()) ?? {}; } catch { /* none yet */ }
      post({
        type: FROM_WORKER.TICK,
        kind: 'ids',
        t: performance.now() - started,
        progress: {
          done: job.rows, total: list.length, failed: summary.error,
          etaMs: p.etaMs ?? null, elapsedMs: performance.now() - started,
          retries: p.retries ?? 0, throttledMs: p.throttledMs ?? 0,
        },
        stats: { ...stats, configuredConcurrency: configured },
      });
    };
    const flush = async (status) => {
      const out = pending;
      pending = [];
      const from = job.rows;
      if (job.columns === null && out.length > 0) job.columns = idColumnsOf(out.slice(0, 50));
      const firstColumns = from === 0 && out.length > 0 ? job.columns : null;
      job.rows += out.length;
      job.elapsedMs = performance.now() - started;
      job.status = status;
      const seq = job.chunks;
      if (out.length > 0) job.chunks += 1;
      await store.saveFlush(job, seq, out);
      running.records = job.rows;
      if (out.length > 0) postRows('ids', from, out, firstColumns);
    };
    const template = config.idsTemplate || 'items/{id}';
    const stream = client.fetchManyStream(template, list, {
      signal: abort.signal,
      onProgress: (p) => { progress = p; },
    });
    await pump(stream, (f) => {
      const r = idResult(f, secrets);
      summary[r.result] += 1;
      pending.push(r.text);
      return pending.length;
    }, flush, tick, abort);
    job.report = { summary };
    await flush('done');
    tick();
    return { type: FROM_WORKER.DONE, kind: 'ids', summary };
  });
}

/**
 * `export`: the saved job's rows as a Blob.
 * @param {'ndjson'|'csv'|'json'} format
 */
async function onExport(format) {
  const job = await store.getJob();
  if (!job) throw workerError('nothing to export: no rows saved');
  const { blob, filename, rows } = await exportJob(job, format);
  post({ type: FROM_WORKER.EXPORTED, format, blob, filename, rows });
}

// ---- Dispatch ------------------------------------------------------------

/**
 * @param {MessageEvent} ev
 */
async function onMessage(ev) {
  const msg = ev.data ?? {};
  const config = msg.config ?? null;
  try {
    const needsConfig = [TO_WORKER.TEST, TO_WORKER.START, TO_WORKER.RESUME, TO_WORKER.IDS];
    if (needsConfig.includes(msg.type) && (config === null || typeof config !== 'object')) {
      throw Object.assign(new Error(`the ${msg.type} message has no config`), { kind: 'config' });
    }
    switch (msg.type) {
      case TO_WORKER.HELLO: return await onHello();
      case TO_WORKER.TEST: return await onTest(config);
      case TO_WORKER.START: return await onStart(config);
      case TO_WORKER.RESUME: return await onResume(config);
      case TO_WORKER.LOAD: return await onLoad();
      case TO_WORKER.STOP:
        // A job stops once its last rows are saved (`stopped`); a test
        // connection is cancelled (`failed`, kind `cancelled`).
        if (running) running.abort.abort();
        else if (testing) testing.abort();
        else post({ type: FROM_WORKER.STOPPED, records: 0, idle: true });
        return;
      case TO_WORKER.DISCARD: return await onDiscard();
      case TO_WORKER.IDS: return await onIds(config, Array.isArray(msg.ids) ? msg.ids : []);
      case TO_WORKER.EXPORT: return await onExport(msg.format);
      default:
        throw Object.assign(new Error(`unknown message type: ${msg.type}`), { kind: 'config' });
    }
  } catch (e) {
    post({ type: FROM_WORKER.FAILED, of: msg.type ?? null, error: await describeError(e, config) });
  }
}

self.addEventListener('message', (ev) => {
  loaded.then(() => onMessage(ev), async (e) => {
    const error = serializeError(e);
    error.message = `the npm package did not load: ${error.message}`;
    post({ type: FROM_WORKER.FAILED, of: ev.data?.type ?? null, fatal: true, error });
  });
});
