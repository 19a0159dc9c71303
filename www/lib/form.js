// The connection form: fills itself with defaults, reads a `config` for the
// worker (see www/lib/protocol.js), and fills itself back from a saved job.
// Credentials are read from their inputs when a job starts and never written
// anywhere else.

const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/** Presets that need an `instance` (until the worker says which). */
const NEEDS_INSTANCE = new Set(['servicenow', 'salesforce']);
/** Presets with no base URL of their own (until the worker says which). */
const NEEDS_BASE_URL = new Set(['jsonapi', 'jsonapi-page', 'postgrest']);

/** @param {string} preset */
const needsInstance = (preset) => NEEDS_INSTANCE.has(preset);
/** @param {string} preset */
const needsBaseUrl = (preset) => NEEDS_BASE_URL.has(preset);

/** The form's values when served by the test server. */
function defaults() {
  return {
    baseUrl: location.origin + '/',
    collection: 'offset/items',
    recordsAt: '/data',
    paginationType: 'offset',
    totalType: 'header',
    totalValue: 'X-Total-Count',
    pageSize: 100,
    concurrency: 6,
    idsTemplate: 'items/{id}',
  };
}

/**
 * Wires the form: preset options, field visibility, defaults.
 * @param {string[]} presets the npm package's preset names
 * @param {Record<string, {instance: boolean, baseUrl: boolean}>} [needs] what each preset needs (the worker asks the npm package)
 */
export function initForm(presets = [], needs = {}) {
  for (const [name, need] of Object.entries(needs)) {
    if (need.instance) NEEDS_INSTANCE.add(name); else NEEDS_INSTANCE.delete(name);
    if (need.baseUrl) NEEDS_BASE_URL.add(name); else NEEDS_BASE_URL.delete(name);
  }
  const sel = $('preset');
  for (const name of presets) {
    if ([...sel.options].some((o) => o.value === name)) continue;
    const o = document.createElement('option');
    o.value = name;
    o.textContent = name;
    sel.append(o);
  }
  if (!initForm.wired) {
    initForm.wired = true;
    const d = defaults();
    $('base-url').value = d.baseUrl;
    $('collection').value = d.collection;
    $('records-at').value = d.recordsAt;
    $('pagination-type').value = d.paginationType;
    $('total-type').value = d.totalType;
    $('total-value').value = d.totalValue;
    $('page-size').value = String(d.pageSize);
    $('concurrency').value = String(d.concurrency);
    $('ids-template').value = d.idsTemplate;
    sel.addEventListener('change', onPresetChange);
    $('auth-type').addEventListener('change', syncVisibility);
    $('pagination-type').addEventListener('change', syncVisibility);
    for (const id of ['cursor-from', 'next-from', 'total-type']) $(id).addEventListener('change', syncVisibility);
  }
  syncVisibility();
}

function onPresetChange() {
  const preset = $('preset').value;
  // A preset brings its own base URL and dialect; ours would override them.
  // A preset without a base URL of its own (PostgREST, JSON:API) needs one.
  $('base-url').value = preset === 'custom' ? defaults().baseUrl : '';
  syncVisibility();
}

/** Shows the fields that apply to the chosen preset, auth type and pagination. */
function syncVisibility() {
  const preset = $('preset').value;
  const custom = preset === 'custom';
  /** @type {HTMLFieldSetElement} */ (document.getElementById('dialect')).disabled = !custom;
  document.getElementById('dialect').hidden = !custom;
  document.getElementById('instance-field').hidden = !needsInstance(preset);
  const baseNeeded = custom || needsBaseUrl(preset);
  $('base-url').placeholder = baseNeeded ? 'https://api.example.com/v1/' : "the preset's (leave empty)";
  $('base-url').required = baseNeeded;
  $('instance').required = needsInstance(preset);
  const auth = $('auth-type').value;
  for (const el of document.querySelectorAll('[data-auth]')) {
    const shown = el.getAttribute('data-auth') === auth;
    /** @type {HTMLElement} */ (el).hidden = !shown;
    // One password input in the form at a time (browsers warn of several).
    for (const input of el.querySelectorAll('[data-secret]')) /** @type {HTMLInputElement} */ (input).type = shown ? 'password' : 'text';
  }
  const pag = $('pagination-type').value;
  for (const el of document.querySelectorAll('[data-pag]')) {
    /** @type {HTMLElement} */ (el).hidden = el.getAttribute('data-pag') !== pag;
  }
  // The placeholders say what each "pointer / header" field expects now.
  const cursorKind = $('cursor-from').value;
  $('cursor-from-value').placeholder = cursorKind === 'header' ? 'X-Next-Cursor' : '/next_cursor';
  const nextKind = $('next-from').value;
  $('next-from-value').placeholder = nextKind === 'header' ? 'X-Next-Page' : '/next';
  $('next-from-value').disabled = nextKind === 'link';
  const totalType = $('total-type').value;
  $('total-value').placeholder = totalType === 'pointer' ? '/meta/total' : 'X-Total-Count';
  $('total-value').disabled = totalType === 'none' || totalType === 'content-range';
}

const str = (id) => $(id).value.trim();
/** @returns {number|undefined} */
function num(id) {
  const v = $(id).value.trim();
  if (v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
/** Copies the defined members only. */
function pick(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
/** `''` means "none" for the params that accept `null`. */
const orNull = (v) => (v === 'none' || v === 'null' ? null : v || undefined);

function readTotal() {
  const type = str('total-type');
  const value = str('total-value');
  const optional = $('total-optional').checked || undefined;
  if (type === 'none') return undefined;
  if (type === 'content-range') return pick({ 'content-range': true, optional });
  if (!value) return undefined;
  return pick({ [type]: value, optional });
}

/**
 * `{ pointer }` or `{ header }` from a "from" select and its value input; an
 * empty pointer is the placeholder's default, an empty header has none
 * (see {@link formProblem}).
 */
function linkSource(selectId, defaultPointer) {
  const kind = str(selectId);
  const value = str(selectId + '-value');
  return kind === 'header' ? { header: value } : { pointer: value || defaultPointer };
}

function readPagination() {
  const type = str('pagination-type');
  const total = readTotal();
  switch (type) {
    case 'offset':
      return pick({ type, total, offsetParam: str('offset-param'), limitParam: str('offset-limit-param'), range: $('offset-range').checked || undefined });
    case 'page':
      return pick({ type, total, firstPage: Number(str('first-page')), pageParam: str('page-param'), sizeParam: orNull(str('size-param')) });
    case 'cursor':
      return pick({ type, total, from: linkSource('cursor-from', '/next_cursor'), param: str('cursor-param'), limitParam: orNull(str('cursor-limit-param')), more: str('cursor-more') });
    case 'next': {
      const from = str('next-from') === 'link' ? 'link' : linkSource('next-from', '/next');
      return pick({ type, total, from, limitParam: orNull(str('next-limit-param')) });
    }
    case 'keyset':
      return pick({ type, total, field: str('keyset-field') || 'id', param: str('keyset-param'), value: str('keyset-value'), limitParam: orNull(str('keyset-limit-param')), more: str('keyset-more') });
    default:
      return undefined;
  }
}

function readRetry() {
  const r = pick({ maxRetries: num('max-retries'), baseDelayMs: num('base-delay-ms'), maxDelayMs: num('max-delay-ms'), maxRetryAfterMs: num('max-retry-after-ms') });
  return Object.keys(r).length ? r : undefined;
}

function readPacing() {
  const perSecond = num('rate-per-second');
  const rateLimit = perSecond ? { perSecond, burst: num('rate-burst') || 1 } : undefined;
  return pick({ adaptive: $('pacing-adaptive').checked, rateLimit });
}

/**
 * The auth the form holds (credentials included: hand it to the worker only).
 * @returns {{type:'none'}|{type:'bearer',token:string}|{type:'basic',user:string,password:string}|{type:'header',name:string,value:string}}
 */
export function readAuth() {
  switch ($('auth-type').value) {
    case 'bearer': return { type: 'bearer', token: $('auth-token').value };
    case 'basic': return { type: 'basic', user: $('auth-user').value, password: $('auth-password').value };
    case 'header': return { type: 'header', name: str('auth-header-name'), value: $('auth-header-value').value };
    default: return { type: 'none' };
  }
}

/**
 * The message of the first problem of the auth fields, or `null`.
 * @returns {string|null}
 */
export function authProblem() {
  const a = readAuth();
  if (a.type === 'bearer' && !a.token) return 'Enter the bearer token.';
  if (a.type === 'basic' && !a.user) return 'Enter the user name.';
  if (a.type === 'header' && (!a.name || !a.value)) return 'Enter the header name and value.';
  return null;
}

/**
 * The first problem of the form a request would fail on, with the input to
 * fix, or `null`: missing credentials, a preset's missing instance or base
 * URL, an empty header name for a cursor, next link or total.
 * @param {{dialect?: boolean}} [opts] `dialect: false` when no list is read (fetch by ids)
 * @returns {{message: string, input: HTMLElement|null}|null}
 */
export function formProblem({ dialect = true } = {}) {
  const auth = authProblem();
  if (auth) return { message: auth, input: firstAuthInput() };
  const bad = queryLines().find((line) => !/^[^=]+=/.test(line));
  if (bad !== undefined) return { message: `Query parameters: "${bad}" is not name=value.`, input: $('query') };
  const preset = str('preset');
  if (needsInstance(preset) && !str('instance') && !str('base-url')) return { message: `Enter the instance: preset ${preset} builds its base URL from it.`, input: $('instance') };
  if ((preset === 'custom' || needsBaseUrl(preset)) && !str('base-url')) return { message: preset === 'custom' ? 'Enter the base URL.' : `Enter the base URL: preset ${preset} has none of its own.`, input: $('base-url') };
  if (!dialect || preset !== 'custom') return null;
  const pag = str('pagination-type');
  if (pag === 'cursor' && str('cursor-from') === 'header' && !str('cursor-from-value')) return { message: 'Enter the header the cursor comes in.', input: $('cursor-from-value') };
  if (pag === 'next' && str('next-from') === 'header' && !str('next-from-value')) return { message: 'Enter the header the next link comes in.', input: $('next-from-value') };
  const total = str('total-type');
  if ((total === 'header' || total === 'pointer') && !str('total-value')) return { message: `Enter the total's ${total === 'header' ? 'header' : 'pointer'}, or choose none.`, input: $('total-value') };
  return null;
}

/** The query field's non-empty lines. */
function queryLines() {
  return /** @type {HTMLTextAreaElement} */ ($('query')).value.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * The query field as name/value pairs, in order (a name may repeat), split
 * at the first `=`; `null` when empty.
 * @returns {[string, string][]|null}
 */
function readQuery() {
  const pairs = queryLines().filter((l) => /^[^=]+=/.test(l)).map((l) => {
    const at = l.indexOf('=');
    return /** @type {[string, string]} */ ([l.slice(0, at).trim(), l.slice(at + 1).trim()]);
  });
  return pairs.length > 0 ? pairs : null;
}

/**
 * The worker's `config` from the form (credentials in `auth` only).
 * @returns {{client: object, auth: object, collection: string, list: object, idsTemplate: string}}
 */
export function readConfig() {
  const preset = str('preset');
  const custom = preset === 'custom';
  const client = pick({
    preset: custom ? undefined : preset,
    instance: !custom && NEEDS_INSTANCE.has(preset) ? str('instance') : undefined,
    baseUrl: str('base-url'),
    recordsAt: custom ? $('records-at').value.trim() : undefined,
    pagination: custom ? readPagination() : undefined,
    pageSize: num('page-size'),
    concurrency: num('concurrency'),
    timeoutMs: num('timeout-ms'),
    retry: readRetry(),
    pacing: readPacing(),
  });
  // recordsAt '' (a top-level array) is meaningful for a custom dialect.
  if (custom && !('recordsAt' in client)) client.recordsAt = '';
  return {
    client,
    auth: readAuth(),
    collection: str('collection'),
    list: pick({ query: readQuery() ?? undefined }),
    idsTemplate: str('ids-template') || 'items/{id}',
  };
}

/** Sets an input's value when the saved value is defined. */
function set(id, v) {
  if (v === undefined || v === null) return;
  const el = $(id);
  if (el.type === 'checkbox') el.checked = Boolean(v);
  else el.value = String(v);
}

function fillTotal(total) {
  if (!total) { set('total-type', 'none'); return; }
  if (total === 'content-range' || total['content-range']) set('total-type', 'content-range');
  else if (total.header) { set('total-type', 'header'); set('total-value', total.header); }
  else if (total.pointer) { set('total-type', 'pointer'); set('total-value', total.pointer); }
  set('total-optional', Boolean(total.optional));
}

const fromKind = (from) => (from === 'link' ? ['link', ''] : from && from.header ? ['header', from.header] : ['pointer', from ? from.pointer : '']);

function fillPagination(p) {
  if (!p) return;
  set('pagination-type', p.type);
  fillTotal(p.total);
  if (p.type === 'offset') { set('offset-param', p.offsetParam); set('offset-limit-param', p.limitParam); set('offset-range', p.range); }
  if (p.type === 'page') { set('first-page', p.firstPage); set('page-param', p.pageParam); set('size-param', p.sizeParam === null ? 'none' : p.sizeParam); }
  if (p.type === 'cursor') { const [k, v] = fromKind(p.from); set('cursor-from', k); set('cursor-from-value', v); set('cursor-param', p.param); set('cursor-limit-param', p.limitParam === null ? 'none' : p.limitParam); set('cursor-more', p.more); }
  if (p.type === 'next') { const [k, v] = fromKind(p.from); set('next-from', k); set('next-from-value', v); set('next-limit-param', p.limitParam === null ? 'none' : p.limitParam); }
  if (p.type === 'keyset') { set('keyset-field', p.field); set('keyset-param', p.param); set('keyset-value', p.value); set('keyset-limit-param', p.limitParam === null ? 'none' : p.limitParam); set('keyset-more', p.more); }
}

/**
 * Fills the form from a saved job's config (which holds no credentials) and
 * selects its auth type so that the user enters them again.
 * @param {{client?: any, collection?: string, idsTemplate?: string}} config
 * @param {string} authType
 */
export function fillForm(config, authType = 'none') {
  const c = (config && config.client) || {};
  set('preset', c.preset || 'custom');
  syncVisibility();
  set('instance', c.instance);
  $('base-url').value = c.baseUrl || '';
  set('collection', config.collection);
  const query = config.list && Array.isArray(config.list.query) ? config.list.query : [];
  /** @type {HTMLTextAreaElement} */ ($('query')).value = query.map(([k, v]) => `${k}=${v}`).join('\n');
  set('ids-template', config.idsTemplate);
  if (!c.preset) {
    $('records-at').value = c.recordsAt || '';
    fillPagination(c.pagination);
  }
  // Left empty when saved so (a reload's form starts from the defaults).
  $('page-size').value = c.pageSize === undefined ? '' : String(c.pageSize);
  $('concurrency').value = c.concurrency === undefined ? '' : String(c.concurrency);
  set('timeout-ms', c.timeoutMs);
  const r = c.retry || {};
  set('max-retries', r.maxRetries); set('base-delay-ms', r.baseDelayMs); set('max-delay-ms', r.maxDelayMs); set('max-retry-after-ms', r.maxRetryAfterMs);
  const p = c.pacing || {};
  set('pacing-adaptive', p.adaptive !== false);
  if (p.rateLimit) { set('rate-per-second', p.rateLimit.perSecond); set('rate-burst', p.rateLimit.burst); }
  set('auth-type', authType);
  syncVisibility();
}

/** The auth input to focus when credentials must be entered again, or `null`. */
export function firstAuthInput() {
  const t = $('auth-type').value;
  return t === 'bearer' ? $('auth-token') : t === 'basic' ? $('auth-user') : t === 'header' ? $('auth-header-name') : null;
}

/**
 * Enables or disables the form's inputs (not its buttons) while a job runs.
 * @param {boolean} locked
 */
export function lockForm(locked) {
  for (const el of document.querySelectorAll('#connect-form input, #connect-form select, #connect-form textarea')) {
    /** @type {HTMLInputElement} */ (el).readOnly = locked && el.tagName !== 'SELECT';
    if (el.tagName === 'SELECT') /** @type {HTMLSelectElement} */ (el).disabled = locked;
  }
}
