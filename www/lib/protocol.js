// The worker protocol, shared by the page (main.js) and the worker (worker.js).
// Every message is a plain, structured-cloneable object with a `type`.
// See www/README.md, "The worker protocol": this module names every message type,
// documents every message's fields, and holds the two helpers both sides need.

// Worker → page rows are indexed (`from`): `resume` (and `load`) send the
// saved rows again from row 0, so the page replaces rather than appends.
// An `ids` job replaces the saved job too (one current job, exported as is).

/** Message types sent by the page to the worker. */
export const TO_WORKER = Object.freeze({
  HELLO: 'hello',
  TEST: 'test',
  START: 'start',
  RESUME: 'resume',
  LOAD: 'load',
  STOP: 'stop',
  DISCARD: 'discard',
  IDS: 'ids',
  EXPORT: 'export',
});

/** Message types sent by the worker to the page. */
export const FROM_WORKER = Object.freeze({
  READY: 'ready',
  TESTED: 'tested',
  ROWS: 'rows',
  TICK: 'tick',
  DONE: 'done',
  STOPPED: 'stopped',
  FAILED: 'failed',
  LOADED: 'loaded',
  DISCARDED: 'discarded',
  EXPORTED: 'exported',
});

/** Export formats and their MIME types / file extensions. */
export const EXPORT_FORMATS = Object.freeze({
  ndjson: { type: 'application/x-ndjson', ext: 'ndjson' },
  csv: { type: 'text/csv;charset=utf-8', ext: 'csv' },
  json: { type: 'application/json', ext: 'json' },
});

/** Hint codes of a {@link SerializedError} (`null` when none applies). */
export const HINTS = Object.freeze([
  'auth', 'cors', 'mixed-content', 'unreachable', 'not-found', 'records', 'rate-limit',
  'config', 'timeout', 'server',
]);

/** Timing of the worker's messages, in ms / rows. */
export const TICK_MS = 250;
export const ROWS_FLUSH_MS = 100;
export const ROWS_FLUSH_MAX = 5000;
/**
 * The worker saves (IndexedDB) at the first page boundary this long after
 * the last save (so a reload loses at most this much of the sweep), or once
 * this many rows wait; rows are posted only once saved, so `rows` messages
 * come at this pace: small batches, each a short task for the page.
 */
export const SAVE_MS = ROWS_FLUSH_MS;
export const SAVE_MAX_ROWS = 5000;
/** Records looked at to infer the columns. */
export const COLUMNS_SAMPLE = 50;
/** The id-result columns that come before the records' `record.<key>` columns. */
export const ID_COLUMNS = Object.freeze(['id', 'result', 'status', 'error']);
/** The longest `sample` in a `tested` shape. */
export const SAMPLE_MAX_CHARS = 2048;

/**
 * @typedef {{ type: 'none' }
 *   | { type: 'bearer', token: string }
 *   | { type: 'basic', user: string, password: string }
 *   | { type: 'header', name: string, value: string }} AuthConfig
 */

/**
 * What the connection form builds (structured-cloneable).
 * @typedef {object} Config
 * @property {object} client  ClientOptions JSON without auth (preset, instance,
 *   apiVersion, baseUrl, recordsAt, pagination, pageSize, concurrency,
 *   timeoutMs, retry, pacing, headers, query).
 * @property {AuthConfig} auth  Kept in memory only; never saved.
 * @property {string} collection  The list path, e.g. `offset/items`.
 * @property {object} [list]  ListOptions JSON (query, order, verify, …), no signal/onProgress.
 * @property {string} [idsTemplate]  For fetch by ids, e.g. `items/{id}`.
 */

/**
 * The saved job (IndexedDB store `job`, key `'current'`). Never holds a credential.
 * @typedef {object} SavedJob
 * @property {string} id
 * @property {'records'|'ids'} kind
 * @property {number} createdAt  ms since the epoch
 * @property {Omit<Config, 'auth'>} config
 * @property {'none'|'bearer'|'basic'|'header'} authType
 * @property {string|null} checkpoint
 * @property {number} rows
 * @property {number} pages
 * @property {number} elapsedMs
 * @property {'running'|'stopped'|'done'|'failed'} status
 * @property {string[]|null} columns
 * @property {object|null} report
 */

/**
 * @typedef {object} SerializedError
 * @property {string} kind  pagewise's ErrorKind, or `internal` for another exception.
 * @property {string} message  No credential (configured secrets replaced by `[redacted]`).
 * @property {number|null} status
 * @property {string|null} url  Credentials removed.
 * @property {number|null} page
 * @property {string|null} excerpt
 * @property {string|null} hint  One of {@link HINTS}, or null.
 * @property {string|null} hintText  A plain sentence, or null.
 */

// ---- Page → worker -------------------------------------------------------

/** @typedef {{ type: 'hello' }} HelloMsg  → `ready` */
/** @typedef {{ type: 'test', config: Config }} TestMsg  → `tested` or `failed` */
/** @typedef {{ type: 'start', config: Config }} StartMsg  → `rows`…, `tick`…, `done`/`stopped`/`failed`; discards any saved job */
/** @typedef {{ type: 'resume', config: Config }} ResumeMsg  → saved `rows` re-sent, then like `start` */
/** @typedef {{ type: 'load' }} LoadMsg  → `rows`… of the saved job, then `loaded` */
/** @typedef {{ type: 'stop' }} StopMsg  → `stopped` once the last checkpoint is saved */
/** @typedef {{ type: 'discard' }} DiscardMsg  → `discarded` */
/** @typedef {{ type: 'ids', config: Config, ids: string[] }} IdsMsg  → `rows` (kind ids), `tick`…, `done { summary }`/`failed` */
/** @typedef {{ type: 'export', format: 'ndjson'|'csv'|'json' }} ExportMsg  → `exported` (or `failed`) */

// ---- Worker → page -------------------------------------------------------

/**
 * @typedef {{ type: 'ready', presets: string[], presetNeeds: Record<string, {instance: boolean, baseUrl: boolean}>, saved: SavedJob|null }} ReadyMsg
 * `presetNeeds`: whether a preset needs an `instance` or a `baseUrl` (it has none of its own).
 */

/**
 * @typedef {object} Shape
 * @property {string} url  The first page's URL (credentials removed).
 * @property {number} records  Records on the first page.
 * @property {number|null} total  The total read, if any.
 * @property {string|null} nextUrl  The second page's URL, or null.
 * @property {string[]} columns
 * @property {string|null} sample  The first record, pretty-printed, at most {@link SAMPLE_MAX_CHARS}.
 * @property {string|null} recordsAt  The records pointer used.
 */
/** @typedef {{ type: 'tested', shape: Shape }} TestedMsg */

/**
 * Rows as JSON text. A record: `JSON.stringify(record)`. An id result:
 * `{"id":"7","result":"found","status":200,"record":{…}}`,
 * `{"id":"9","result":"missing","status":404}`,
 * `{"id":"x","result":"error","status":500,"error":"<kind>: <message>"}`.
 * `columns` comes once, with the first rows of a job.
 * @typedef {{ type: 'rows', kind: 'records'|'ids', from: number, rows: string[], columns?: string[] }} RowsMsg
 */

/**
 * @typedef {object} RecordsProgress
 * @property {number} records
 * @property {number|null} recordsTotal
 * @property {number} pages
 * @property {number|null} pagesTotal
 * @property {number|null} etaMs
 * @property {number} elapsedMs
 * @property {number} retries
 * @property {{throttled:number, serverError:number, timeout:number, transport:number, badBody:number}} retriesByCause
 * @property {number} throttledMs
 */
/**
 * @typedef {object} IdsProgress
 * @property {number} done
 * @property {number} total
 * @property {number} failed
 * @property {number|null} etaMs
 * @property {number} elapsedMs
 * @property {number} retries
 * @property {number} throttledMs
 */
/**
 * `t` = ms since the job started (monotonic across a resume); `stats` =
 * `client.pacingStats()` plus `configuredConcurrency`.
 * @typedef {{ type: 'tick', kind: 'records'|'ids', t: number, progress: RecordsProgress|IdsProgress, stats: object }} TickMsg
 */
/**
 * A sweep's `done` also says how many rows it holds in all (`records`) and
 * from which row this run started (`resumedFrom`, 0 unless resumed); its
 * `report` is the npm package's Report, as plain JSON.
 * @typedef {{ type: 'done', kind: 'records', report: object, records: number, resumedFrom: number }
 *   | { type: 'done', kind: 'ids', summary: { found: number, missing: number, error: number } }} DoneMsg
 */
/** @typedef {{ type: 'stopped', records: number }} StoppedMsg */
/** @typedef {{ type: 'failed', error: SerializedError }} FailedMsg */
/** @typedef {{ type: 'loaded', count: number }} LoadedMsg */
/** @typedef {{ type: 'discarded' }} DiscardedMsg */
/** @typedef {{ type: 'exported', format: 'ndjson'|'csv'|'json', blob: Blob, filename: string, rows: number }} ExportedMsg */

/**
 * A plain, structured-cloneable copy of an error (a `PagewiseError` or any
 * exception). `hint`/`hintText` are left null: the worker fills them
 * (hints.js), since the CORS hint needs a network probe.
 * @param {unknown} e
 * @returns {SerializedError}
 */
export function serializeError(e) {
  const err = /** @type {any} */ (e);
  const isObj = err !== null && typeof err === 'object';
  const kind = isObj && typeof err.kind === 'string' ? err.kind : 'internal';
  let message;
  if (isObj && typeof err.message === 'string') message = err.message;
  else message = String(e);
  return {
    kind,
    message,
    status: isObj && typeof err.status === 'number' ? err.status : null,
    url: isObj && typeof err.url === 'string' ? err.url : null,
    page: isObj && typeof err.page === 'number' ? err.page : null,
    excerpt: isObj && typeof err.excerpt === 'string' ? err.excerpt : null,
    hint: isObj && typeof err.hint === 'string' ? err.hint : null,
    hintText: isObj && typeof err.hintText === 'string' ? err.hintText : null,
  };
}

/**
 * Column inference shared by the table and the CSV export: the top-level
 * keys of the first {@link COLUMNS_SAMPLE} records, in order of first
 * appearance. A record that is not an object gives the column `value`.
 * @param {Array<unknown>} records  Parsed records (or JSON text of records).
 * @returns {string[]}
 */
export function columnsOf(records) {
  const seen = new Set();
  const n = Math.min(records.length, COLUMNS_SAMPLE);
  for (let i = 0; i < n; i++) {
    let r = records[i];
    if (typeof r === 'string') {
      try { r = JSON.parse(r); } catch { r = undefined; }
    }
    if (r !== null && typeof r === 'object' && !Array.isArray(r)) {
      for (const k of Object.keys(r)) seen.add(k);
    } else {
      seen.add('value');
    }
  }
  return [...seen];
}

/**
 * Columns of id results: `id, result, status, error`, then the found
 * records' keys as `record.<key>` (from the first {@link COLUMNS_SAMPLE} results).
 * @param {Array<unknown>} results  Parsed id results (or their JSON text).
 * @returns {string[]}
 */
export function idColumnsOf(results) {
  const records = [];
  const n = Math.min(results.length, COLUMNS_SAMPLE);
  for (let i = 0; i < n; i++) {
    let r = results[i];
    if (typeof r === 'string') {
      try { r = JSON.parse(r); } catch { r = undefined; }
    }
    if (r && typeof r === 'object' && r.record !== undefined) records.push(r.record);
  }
  return [...ID_COLUMNS, ...columnsOf(records).map((k) => 'record.' + k)];
}

/**
 * The value of a column in a parsed row: a top-level key, or for id
 * results `record.<key>` (one level down). For a non-object record the
 * column `value` is the record itself.
 * @param {unknown} row
 * @param {string} column
 * @returns {unknown}
 */
export function cellOf(row, column) {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    return column === 'value' ? row : undefined;
  }
  const r = /** @type {Record<string, any>} */ (row);
  if (Object.prototype.hasOwnProperty.call(r, column)) return r[column];
  if (column.startsWith('record.') && r.record && typeof r.record === 'object') {
    return r.record[column.slice(7)];
  }
  return undefined;
}

/**
 * A cell's text for display or CSV: strings as they are, null/undefined as
 * the empty string, nested values as JSON text.
 * @param {unknown} v
 * @returns {string}
 */
export function cellText(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
