// What every JavaScript client of the benchmark shares (Node and the
// browser): the command line, the id check and the peers' retry rule. No
// Node-only imports here: the Chromium page imports this file too.

/** Retries of one request, the same for every client of the benchmark. */
export const MAX_RETRIES = 10;
export const BASE_DELAY_MS = 200;
export const MAX_DELAY_MS = 20000;

/** `--scenario NAME --url URL --concurrency C --page-size P [--ids N]` */
export function parseArgs(argv) {
  const args = { scenario: '', url: '', concurrency: 16, pageSize: 100, ids: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--scenario': args.scenario = value; break;
      case '--url': args.url = value.replace(/\/+$/, ''); break;
      case '--concurrency': args.concurrency = Number(value); break;
      case '--page-size': args.pageSize = Number(value); break;
      case '--ids': args.ids = Number(value); break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!args.scenario) throw new Error('--scenario is required');
  kind(args);
  if (!args.url && kind(args) !== 'startup') throw new Error('--url is required');
  if (kind(args) === 'fetch-many' && !(args.ids > 0)) throw new Error('fetch-many needs --ids N');
  return args;
}

/** `sweep`, `fetch-many` or `startup`. */
export function kind(args) {
  switch (args.scenario) {
    case 'latency': case 'throughput': case 'politeness': case 'memory': case 'shedding': return 'sweep';
    case 'fetch-many': return 'fetch-many';
    case 'startup': return 'startup';
    default: throw new Error(`unknown scenario ${JSON.stringify(args.scenario)}`);
  }
}

/** Checks that every id 1..=total arrived exactly once. */
export class Seen {
  #seen = new Uint8Array(1024);
  count = 0;

  mark(id) {
    if (!Number.isInteger(id) || id < 1) throw new Error(`bad id ${id}`);
    if (id >= this.#seen.length) {
      const bigger = new Uint8Array(Math.max(id + 1, this.#seen.length * 2));
      bigger.set(this.#seen);
      this.#seen = bigger;
    }
    if (this.#seen[id]) throw new Error(`id ${id} arrived twice`);
    this.#seen[id] = 1;
    this.count += 1;
  }

  check(total) {
    if (this.count !== total) {
      let missing = null;
      for (let id = 1; id <= total; id++) if (!this.#seen[id]) { missing = id; break; }
      throw new Error(`${this.count} ids arrived, expected ${total} (first missing: ${missing})`);
    }
  }
}

/** 429 and the transient 5xx are retried. */
export const retried = (status) => status === 429 || (status >= 500 && status <= 504 && status !== 501);

/**
 * The peers' retry rule: `Retry-After` (+ up to 10% jitter) when the answer
 * names one, else full-jitter backoff from 200 ms doubling to 20 s.
 */
export function retryDelayMs(attempt, retryAfter) {
  const secs = retryAfter == null ? NaN : Number(retryAfter);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000 * (1 + Math.random() * 0.1);
  return Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The client options every pagewise (npm) client of the benchmark uses. */
export function pagewiseOptions(args) {
  return {
    // `startup` has no server: the client is still built (the wasm module
    // loaded, the options checked), just never used.
    baseUrl: `${args.url || 'http://127.0.0.1:9'}/`,
    recordsAt: '/data',
    pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
    pageSize: args.pageSize,
    concurrency: args.concurrency,
    retry: { maxRetries: MAX_RETRIES, baseDelayMs: BASE_DELAY_MS, maxDelayMs: MAX_DELAY_MS },
  };
}

/**
 * pagewise's npm package at work: a record stream for sweeps; for
 * fetch-many, one `client.fetchMany` over every id (one operation, bounded
 * by the client's concurrency), its results checked in input order.
 */
export async function runPagewise(Client, args) {
  const client = new Client(pagewiseOptions(args));
  const started = performance.now();
  const seen = new Seen();
  const out = { records: 0, requests: 0, throttled: 0, retries: 0 };
  switch (kind(args)) {
    case 'startup':
      break;
    case 'sweep': {
      const stream = client.stream('offset/items');
      for await (const record of stream) seen.mark(record.id);
      const report = stream.report;
      if (report.total == null) throw new Error('the sweep reported no total');
      seen.check(report.total);
      if (report.complete !== true) throw new Error(`the report says complete = ${report.complete}`);
      out.requests = report.requests;
      out.throttled = report.retries.throttled;
      out.retries = Object.values(report.retries).reduce((a, b) => a + b, 0);
      break;
    }
    case 'fetch-many': {
      const ids = Array.from({ length: args.ids }, (_, i) => i + 1);
      const results = await client.fetchMany('items/{id}', ids);
      if (results.length !== ids.length) throw new Error(`${results.length} results for ${ids.length} ids`);
      for (const { id, record, error } of results) {
        if (error) throw error;
        if (record.id !== Number(id)) throw new Error(`asked for id ${id}, got ${record.id}`);
        seen.mark(record.id);
      }
      seen.check(args.ids);
      out.requests = args.ids;
      out.throttled = client.pacingStats().throttles;
      break;
    }
  }
  out.records = seen.count;
  out.elapsed_s = (performance.now() - started) / 1000;
  return out;
}
