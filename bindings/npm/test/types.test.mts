// Compile-time checks of index.d.ts (never run): `npm run test:types`.
import { Client, PagewiseError } from 'pagewise';
import type {
  BatchResults,
  BatchWrite,
  JobInput,
  SingleWriteOptions,
  ClientOptions,
  ErrorKind,
  ListOptions,
  Notice,
  Pacing,
  PacingStats,
  Page,
  Progress,
  Report,
  RetryCounts,
  RetryPolicy,
  Watermark,
  CheckpointJson,
  FetchInit,
  Fetched,
  FetchManyOptions,
  FetchManyStream,
  ManyProgress,
  WriteOptions,
  WriteOutcome,
  BatchResultFields,
  DeltaFilter,
  ApiEvent,
  RequestEvent,
} from 'pagewise';

interface Item {
  id: number;
  name: string;
}

const options: ClientOptions = {
  baseUrl: 'https://api.example/v1/',
  auth: { type: 'bearer', token: 't' },
  headers: { 'X-Trace': 'on', 'X-Retries': 3 },
  query: new URLSearchParams('active=true'),
  recordsAt: '/data',
  pagination: { type: 'offset', total: { header: 'X-Total-Count' } },
  pageSize: 500,
  concurrency: 16,
  window: 16,
  timeoutMs: null,
  retry: { maxRetries: 8, baseDelayMs: 100, maxDelayMs: 10_000, maxRetryAfterMs: 60_000, budget: { capacity: 200 } },
  pacing: { rateLimit: { perSecond: 50, burst: 10 }, adaptive: true, cooldownWithoutRetryAfterMs: 1_000, maxCooldownMs: 30_000 },
};
const client = new Client(options);

// The global fetch fits `fetch`, and so does a wrapper of it.
new Client({ baseUrl: 'https://h/', fetch });
new Client({
  baseUrl: 'https://h/',
  fetch: (url: string, init: FetchInit) => {
    const method: string = init.method;
    const first: string | null = init.headers.get('accept');
    const signal: AbortSignal = init.signal;
    void [method, first, signal];
    return fetch(url, init);
  },
});

// Events: a discriminated union, narrowed by `type`.
new Client({
  baseUrl: 'https://h/',
  onRequest: (e: RequestEvent) => void [e.method, e.url, e.elapsedMs, e.bytes, e.message],
  onEvent: (e: ApiEvent) => {
    switch (e.type) {
      case 'request': {
        const status: number | null = e.status;
        const error: string | null = e.error;
        return void [status, error];
      }
      case 'retry': {
        const attempt: number = e.attempt;
        return void [attempt, e.max, e.delayMs, e.cause];
      }
      case 'cooldown':
        return void e.waitMs;
      case 'concurrency':
        return void [e.from, e.to, e.cause];
      case 'rateLearnt':
        return void e.perSecond;
      case 'shedding':
        return void e.on;
      case 'notice': {
        const n: Notice = e.notice;
        return void n;
      }
      case 'sweepFinished': {
        const complete: boolean | null = e.complete;
        return void [complete, e.records, e.pages, e.requests, e.durationMs];
      }
      case 'tokenRefreshed':
        return void e.message;
      default: {
        const never: never = e;
        return void never;
      }
    }
  },
});
// @ts-expect-error a cooldown has no delayMs
new Client({ baseUrl: 'https://h/', onEvent: (e: ApiEvent) => e.type === 'cooldown' && e.delayMs });
// @ts-expect-error onRequest is a function
new Client({ baseUrl: 'https://h/', onRequest: true });

// Every dialect and auth has a shape.
const others: ClientOptions[] = [
  { baseUrl: 'https://h/', pagination: { type: 'offset', total: 'content-range', offsetParam: 'skip', limitParam: 'take' } },
  { baseUrl: 'https://h/', pagination: { type: 'page', firstPage: 0, total: { pointer: '/total' }, sizeParam: null } },
  { baseUrl: 'https://h/', pagination: { type: 'cursor', from: { header: 'X-Next-Cursor' }, param: 'after' } },
  { baseUrl: 'https://h/', pagination: { type: 'next', from: 'link', limitParam: 'per_page' } },
  { baseUrl: 'https://h/', pagination: { type: 'keyset', field: 'id', limitParam: null } },
  { baseUrl: 'https://h/', pagination: { type: 'keyset', field: 'id', param: 'id', value: 'gt.{value}' } },
  { baseUrl: 'https://h/', pagination: { type: 'keyset', field: 'id', param: 'starting_after', more: '/has_more' } },
  { baseUrl: 'https://h/', pagination: { type: 'cursor', from: { pointer: '/next' }, more: '/more', total: { pointer: '/n' } } },
  { baseUrl: 'https://h/', pagination: { type: 'next', from: { pointer: '/nextRecordsUrl' }, limitParam: null, total: { pointer: '/totalSize' } } },
  { baseUrl: 'https://h/', pagination: { type: 'offset', total: { pointer: '/meta/total', optional: true } } },
  { baseUrl: 'https://h/', pagination: { type: 'offset', total: { 'content-range': true, optional: true } } },
  { baseUrl: 'https://h/', pagination: { type: 'offset', range: true } },
  { baseUrl: 'https://h/', delta: { param: 'sysparm_query', value: '{field}>={value}', joiner: '^', format: 'servicenow' } },
  { baseUrl: 'https://h/', delta: { param: 'q', value: '{field} >= {value}', format: 'soql', compose: 'soql' } },
  { baseUrl: 'https://h/', auth: { type: 'basic', user: 'u', password: 'p' }, headers: [['X-A', 'b']] },
  { baseUrl: 'https://h/', auth: { type: 'header', name: 'X-Api-Key', value: 'k' }, query: new Map([['a', 1]]) },
  { baseUrl: 'https://h/', auth: { type: 'query', name: 'api_key', value: 'k' } },
  { baseUrl: 'https://h/', allowOrigins: ['https://cdn.example', 'http://127.0.0.1:8080'] },
  { baseUrl: 'https://h/', allowOrigins: '*' },
];

// Retry and pacing shapes.
const retries: RetryPolicy[] = [
  {},
  { maxRetries: 0 },
  { budget: false },
  { budget: { capacity: 500, retryCost: 5, timeoutCost: 10, successRefund: 1 } },
];
const pacings: Pacing[] = [{}, { adaptive: false }, { rateLimit: null }, { rateLimit: { perSecond: 0.5, burst: 1 } }];
// @ts-expect-error budget is false or an object, not true
const badBudget: RetryPolicy = { budget: true };
// @ts-expect-error typo in a budget member
const badBudgetKey: RetryPolicy = { budget: { capacty: 1 } };
// @ts-expect-error a rate limit needs its burst
const badRate: Pacing = { rateLimit: { perSecond: 10 } };
// @ts-expect-error delays are numbers of ms
const badDelay: RetryPolicy = { baseDelayMs: '100ms' };
// @ts-expect-error pacing is a client option, not a list option
const badListPacing: ListOptions = { pacing: {} };

// @ts-expect-error baseUrl is required
const noBase: ClientOptions = { pageSize: 1 };
const servicenow: ClientOptions = { preset: 'servicenow', instance: 'acme', auth: { type: 'basic', user: 'u', password: 'p' } };
const ghe: ClientOptions = { preset: 'github', baseUrl: 'https://ghe.example/api/v3/' };
// @ts-expect-error an unknown preset
const badPreset: ClientOptions = { preset: 'gitlab' };
// @ts-expect-error unknown pagination type
const badType: ClientOptions = { baseUrl: 'https://h/', pagination: { type: 'offsets' } };
// @ts-expect-error 'link' is for next URLs only
const badCursor: ClientOptions = { baseUrl: 'https://h/', pagination: { type: 'cursor', from: 'link' } };
// @ts-expect-error firstPage is 0 or 1
const badFirst: ClientOptions = { baseUrl: 'https://h/', pagination: { type: 'page', firstPage: 2 } };
// @ts-expect-error bearer needs a token
const badAuth: ClientOptions = { baseUrl: 'https://h/', auth: { type: 'bearer' } };
// @ts-expect-error typo
const typo: ClientOptions = { baseUrl: 'https://h/', pageSzie: 5 };
// @ts-expect-error allowOrigins is a list of origins or '*'
const badOrigins: ClientOptions = { baseUrl: 'https://h/', allowOrigins: true };

async function usage(signal: AbortSignal): Promise<void> {
  const seen: Progress[] = [];
  const listOptions: ListOptions = {
    query: { active: true },
    order: 'completion',
    pageSize: 100,
    concurrency: 4,
    window: 2,
    deadlineMs: 60_000,
    retry: { maxRetries: 2, budget: false },
    verify: true,
    signal,
    onProgress: (p) => {
      seen.push(p);
      const total: number | null = p.total;
      const elapsed: number = p.elapsedMs;
      const retried: number = p.retries;
      const throttledSoFar: number = p.throttledMs;
      void total;
      void elapsed;
      void [retried, throttledSoFar];
    },
  };

  const items: Item[] = await client.list<Item>('items', listOptions);
  const ids: number[] = items.map((i) => i.id);
  const unknowns: unknown[] = await client.list('items');
  // @ts-expect-error records are unknown unless typed
  unknowns[0]?.id;

  const { records, report } = await client.listWithReport<Item>('items');
  const r: Report = report;
  const complete: boolean | null = r.complete;
  const notices: readonly Notice[] = r.notices;
  for (const n of notices) {
    if (n.type === 'totalChanged') {
      const to: number = n.to;
      void to;
    }
    if (n.type === 'oversizedPage') {
      const asked: number = n.asked;
      const got: number = n.got;
      void [asked, got];
    }
  }
  const counts: RetryCounts = r.retries;
  const retried: number = counts.throttled + counts.serverError + counts.timeout + counts.transport + counts.badBody;
  const throttledMs: number = r.throttledMs;
  const changed: boolean = r.changedDuringSweep;
  void [retried, throttledMs, changed];

  const stats: PacingStats = client.pacingStats();
  const learnt: number | null = stats.learntRate;
  const statNumbers: number[] = [stats.throttles, stats.throttledMs, stats.decreases, stats.increases, stats.concurrency, stats.inFlight];
  // @ts-expect-error the learnt rate may be null
  const learntRate: number = stats.learntRate;
  void [learnt, statNumbers, learntRate];

  const one = await client.get<Item>('items/1', { query: [['fields', 'id,name']], signal });
  const name: string = one.name;

  const stream = client.stream<Item>('items', { signal });
  for await (const item of stream) {
    const id: number = item.id;
    if (id > 10) break;
  }
  const finalReport: Report | null = stream.report;

  for await (const page of client.pages<Item>('items')) {
    const p: Page<Item> = page;
    const index: number = p.index;
    const url: string = p.url;
    void index;
    void url;
  }

  try {
    await client.list('items');
  } catch (e) {
    if (e instanceof PagewiseError) {
      const kind: ErrorKind = e.kind;
      const status: number | null = e.status;
      const url: string | null = e.url;
      const page: number | null = e.page;
      const excerpt: string | null = e.excerpt;
      const message: string = e.message;
      if (kind === 'cancelled' || kind === 'status' || kind === 'incomplete' || kind === 'origin') {
        void [status, url, page, excerpt, message];
      }
      // @ts-expect-error not a kind
      const bad: ErrorKind = 'nope';
      void bad;
    }
  }
  const err = new PagewiseError('config', 'bad', { status: null });
  const asError: Error = err;

  // @ts-expect-error order is 'page' or 'completion'
  await client.list('items', { order: 'random' });
  // @ts-expect-error onProgress takes a Progress
  await client.list('items', { onProgress: (p: string) => p });

  // Data operations.
  const fetched: Fetched<Item>[] = await client.fetchMany<Item>('items/{id}', ['1', 2], {
    batch: { path: 'items', param: 'ids', value: '{ids}', separator: ',', max: 100, recordsAt: '/items', idField: 'id' },
    order: 'completion',
    concurrency: 4,
    onProgress: (p: ManyProgress) => {
      const eta: number | null = p.etaMs;
      void [eta, p.done, p.total, p.failed, p.retries, p.throttledMs, p.elapsedMs];
    },
  });
  for (const f of fetched) {
    const id: string = f.id;
    if (f.error) {
      const status: number | null = f.error.status;
      void status;
    } else {
      const name: string = f.record.name;
      void name;
    }
    void id;
  }
  const fstream: FetchManyStream<Item> = client.fetchManyStream<Item>('items/{id}', [1, 2, 3]);
  for await (const f of fstream) {
    if (f.record) void f.record.id;
  }
  const fcp: CheckpointJson = fstream.checkpoint();
  await client.fetchMany('items/{id}', [1, 2, 3], { resume: fcp });
  // @ts-expect-error a batch lookup needs its param
  const badLookup: FetchManyOptions = { batch: { path: 'items' } };

  const wopts: WriteOptions = {
    batch: { path: 'batch/items', opField: null, recordsField: 'records', resultsAt: '/results', max: 200 },
    batchSize: 50,
    concurrency: 8,
    order: 'page',
    idempotencyHeader: null,
    idField: 'id',
  };
  const outcomes: WriteOutcome[] = await client.insertMany('items', [{ name: 'a' }], wopts);
  for (const o of outcomes) {
    const index: number = o.index;
    if (o.ok) {
      const wid: string | null = o.id;
      const st: number = o.status;
      void [wid, st];
    } else {
      const kind: ErrorKind = o.error.kind;
      void kind;
    }
    void index;
  }
  // Salesforce's composite API: a bare array of { id, success, errors }.
  const fields: BatchResultFields = { ok: 'success', error: 'errors/0/message' };
  const sf = await client.insertMany('items', [{ name: 'a' }], {
    batch: { path: 'composite/sobjects', opField: null, resultsAt: '', resultFields: fields },
  });
  for (const o of sf) {
    switch (o.outcome) {
      case 'ok': {
        const yes: true = o.ok;
        void [yes, o.id, o.status];
        break;
      }
      case 'failed': {
        const no: false = o.ok;
        void [no, o.error.status];
        break;
      }
      case 'unknown': {
        const unknown: null = o.ok;
        const kind: ErrorKind = o.error.kind;
        void [unknown, kind];
        break;
      }
    }
  }
  // Batch endpoints of other shapes, lazy input, single-record operations.
  const rows: BatchWrite = {
    path: 'rows',
    opField: null,
    recordsField: 'rows',
    results: 'all-or-nothing',
    okAt: '/ok',
    members: { allOrNone: false },
    itemMembers: { attributes: { type: 'Account' } },
    single: false,
    methods: { update: 'PATCH', delete: 'DELETE' },
    paths: { upsert: 'composite/sobjects/Account/Ext__c' },
    deleteIdsParam: 'ids',
    headers: { Prefer: 'return=representation' },
    resultFields: { ok: 'success', errors: 'errors' },
  };
  const mode: BatchResults = 'by-position';
  async function* lazyIds(): AsyncGenerator<number> {
    yield 1;
  }
  const lazy: Fetched<Item>[] = await client.fetchMany<Item>('items/{id}', lazyIds(), { batch: null });
  const lazyOut: WriteOutcome[] = await client.insertMany('items', lazyIds(), { batch: rows });
  const defaults = new Client({ baseUrl: 'https://h.example/', lookup: { path: '{collection}', param: 'ids' }, batchWrite: rows });
  const created: Item = await defaults.create<Item>('items', { name: 'a' });
  const updated: Item = await defaults.update<Item>('items/{id}', { id: 1, name: 'b' });
  const deleted: null = await defaults.delete('items/1');
  const single: SingleWriteOptions = { signal: new AbortController().signal };
  const input: JobInput<string> = new Set(['a']);
  void [mode, lazy, lazyOut, created, updated, deleted, single, input];
  const unknownKind: ErrorKind = 'outcome-unknown';
  const mp = (p: ManyProgress): number => p.failed + p.unknown;
  void [unknownKind, mp];
  // @ts-expect-error result field names are strings
  const badFields: BatchResultFields = { ok: true };
  await client.updateMany('items', [{ id: 1, name: 'b' }]);
  await client.upsertMany('items', [{ id: 1, name: 'c' }], { idempotencyHeader: 'X-Key' });
  await client.deleteMany('items', [1, 2]);
  // @ts-expect-error idempotencyHeader is a string or null
  await client.deleteMany('items', [1], { idempotencyHeader: false });

  const servicenow: DeltaFilter = { param: 'sysparm_query', value: '{field}>={value}', joiner: '^', idField: 'sys_id' };
  const snClient = new Client({ baseUrl: 'https://x.service-now.com/api/now/table/', delta: servicenow });
  void snClient;
  // @ts-expect-error a delta filter needs its value template
  const badDelta: DeltaFilter = { param: 'p' };
  const since: Watermark = { field: 'updated_at', value: '1970-01-01T00:00:00Z', ids: [] };
  const delta = await client.listWithReport<Item>('items', { since });
  const next: Watermark | null = delta.report.watermark;
  const bytes: number = delta.report.bytes;
  const rstream = client.stream<Item>('items', { since: next ?? since });
  for await (const r of rstream) {
    void r;
    break;
  }
  const cp: string = rstream.checkpoint();
  await client.list('items', { resume: cp, onProgress: (p: Progress) => void [p.pagesTotal, p.recordsTotal, p.bytes, p.etaMs] });
  const byCause: RetryCounts = (null as unknown as Progress).retriesByCause;
  void byCause;
  const pstream = client.pages('items');
  for await (const page of pstream) {
    void page;
    break;
  }
  const pageCp: CheckpointJson = pstream.checkpoint();
  void pageCp;
  // @ts-expect-error a watermark has ids
  const badMark: Watermark = { field: 'f', value: 'v' };
  await client.list('graphql', { body: { query: 'q', variables: { first: '{limit}', after: '{cursor}' } } });
  await client.list('_search', { body: { from: '{offset}', size: '{limit}', query: { match_all: {} } } });
  // @ts-expect-error a body is JSON, not a function
  await client.list('x', { body: () => 1 });
  // @ts-expect-error no such delta format
  const badFormat: ClientOptions = { baseUrl: 'https://h/', delta: { param: 'p', value: 'v', format: 'iso' } };
  void badFormat;

  void [badLookup, bytes, badMark, badFields, badDelta];
  void [ids, records, complete, name, finalReport, asError, others, noBase, servicenow, ghe, badPreset, badType, badCursor, badFirst, badAuth, typo, badOrigins];
  void [retries, pacings, badBudget, badBudgetKey, badRate, badDelay, badListPacing];
}

void usage;
