// Small views: progress bar and text, report, error, test result, resume
// prompt, ids summary. Everything a server said is written as text
// (`textContent`), never as HTML.

const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** `1,234` */
export function n(v) {
  return v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US');
}

/** `1 h 02 min`, `3 min 05 s`, `12.3 s` */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Creates an element with text and optional class. */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** A `<dl>` from pairs (values as text). */
function dl(pairs, cls = 'kv') {
  const d = el('dl', null, cls);
  for (const [k, v] of pairs) {
    d.append(el('dt', k), el('dd', v));
  }
  return d;
}

let lastProgressText = '';

/**
 * Updates the progress bar and its text from a `tick`'s progress.
 * @param {any} p `progress` of a records or ids job
 * @param {'records'|'ids'} kind
 */
export function renderProgress(p, kind = 'records') {
  const bar = /** @type {HTMLProgressElement} */ (byId('progress'));
  let text;
  if (kind === 'ids') {
    const total = p.total || 0;
    bar.max = Math.max(1, total);
    bar.value = p.done || 0;
    text = `${n(p.done)} of ${n(total)} ids` + (p.failed ? ` · ${n(p.failed)} failed` : '');
  } else {
    const total = p.recordsTotal;
    if (total) { bar.max = total; bar.value = Math.min(total, p.records || 0); } else bar.removeAttribute('value');
    const pct = total ? ` (${((100 * (p.records || 0)) / total).toFixed(1)}%)` : '';
    text = `${n(p.records)} of ${total ? n(total) : 'unknown'} records${pct} · page ${n(p.pages)}${p.pagesTotal ? ' of ' + n(p.pagesTotal) : ''}`;
  }
  text += ` · elapsed ${duration(p.elapsedMs)} · ETA ${p.etaMs == null ? '–' : duration(p.etaMs)}`;
  text += ` · ${n(p.retries || 0)} retries · throttled ${duration(p.throttledMs || 0)}`;
  if (text !== lastProgressText) {
    lastProgressText = text;
    byId('progress-text').textContent = text;
  }
}

/** Sets the progress text alone (a state change). */
export function progressMessage(text, full = false) {
  const bar = /** @type {HTMLProgressElement} */ (byId('progress'));
  if (full) { bar.max = 1; bar.value = 1; }
  // No job runs now: an indeterminate bar would still be animating.
  else if (!bar.hasAttribute('value')) bar.value = 0;
  lastProgressText = text;
  byId('progress-text').textContent = text;
  // The live region hears state changes only, never the ticks.
  byId('progress-live').textContent = text;
}

/** Resets the progress bar (a new job). */
export function resetProgress() {
  const bar = /** @type {HTMLProgressElement} */ (byId('progress'));
  bar.max = 1;
  bar.value = 0;
  progressMessage('Starting…');
}

/**
 * Shows a finished sweep's report.
 * @param {any} r the `Report` (or `null` to hide)
 * @param {string} [title]
 */
export function renderReport(r, title = 'Report') {
  const box = byId('report');
  box.replaceChildren();
  if (!r) { box.hidden = true; return; }
  const h = el('h2', title);
  h.id = 'h-report';
  const verdict = r.complete === true ? ['complete', 'ok'] : r.complete === false ? ['incomplete', 'bad'] : ['no total to check against', 'neutral'];
  const badge = el('span', verdict[0], 'badge ' + verdict[1]);
  h.append(' ', badge);
  box.append(h);
  const by = r.retries || {};
  const retries = ['throttled', 'serverError', 'timeout', 'transport', 'badBody'].map((k) => `${by[k] || 0} ${label(k)}`).join(', ');
  box.append(dl([
    ['Records', n(r.records)],
    ['Total announced', n(r.total)],
    ['Pages', n(r.pages)],
    ['Requests', n(r.requests)],
    ['Duration', duration(r.durationMs)],
    ['Retries', retries],
    ['Throttled', duration(r.throttledMs)],
    ['Changed during sweep', r.changedDuringSweep ? 'yes: rows may be missed or repeated' : 'no'],
    ['Bytes read', n(r.bytes)],
    ['Max buffered pages', n(r.maxBufferedPages)],
  ]));
  const notices = r.notices || [];
  if (notices.length) {
    box.append(el('h3', `Notices (${n(notices.length + (r.noticesDropped || 0))})`));
    const ul = el('ul', null, 'notices');
    for (const x of notices.slice(0, 20)) ul.append(el('li', noticeText(x)));
    if (notices.length > 20 || r.noticesDropped) ul.append(el('li', `… and ${n(notices.length - 20 + (r.noticesDropped || 0))} more`));
    box.append(ul);
  } else box.append(el('p', 'No notices.', 'muted'));
  box.hidden = false;
}

function label(cause) {
  return { throttled: '429', serverError: '5xx', timeout: 'timeout', transport: 'transport', badBody: 'bad body' }[cause] || cause;
}

function noticeText(x) {
  switch (x.type) {
    case 'totalChanged': return `Total changed from ${n(x.from)} to ${n(x.to)} (page ${n(x.page)}).`;
    case 'shortPage': return `Page ${n(x.page)} was short: ${n(x.got)} of ${n(x.expected)} records.`;
    case 'oversizedPage': return `Page ${n(x.page)} was oversized: ${n(x.got)} records for ${n(x.asked)} asked.`;
    case 'totalMissing': return `The total was missing (page ${n(x.page)}): pages were walked in sequence.`;
    case 'apiUsageHigh': return `API usage high: ${n(x.used)} of ${n(x.limit)}.`;
    default: return x.message || JSON.stringify(x);
  }
}

/**
 * Shows an error (a `SerializedError`), or hides the error view for `null`.
 * @param {any} e
 * @param {string} [context] what was being done ("Test connection", "Sweep")
 */
export function renderError(e, context = '') {
  const box = byId('error');
  box.replaceChildren();
  const live = byId('error-live');
  if (!e) {
    live.textContent = '';
    box.hidden = true;
    delete box.dataset.hint;
    delete box.dataset.kind;
    return;
  }
  box.dataset.kind = e.kind || 'unknown';
  box.dataset.hint = e.hint || '';
  const title = el('h2', (context ? context + ' failed: ' : 'Failed: ') + (e.kind || 'error') + (e.status ? ' ' + e.status : ''));
  box.append(title);
  if (e.hintText) box.append(el('p', e.hintText, 'hint'));
  const pairs = [['Message', e.message || '–']];
  if (e.status) pairs.push(['Status', String(e.status)]);
  if (e.url) pairs.push(['URL', e.url]);
  if (e.page !== null && e.page !== undefined) pairs.push(['Page', String(e.page)]);
  box.append(dl(pairs));
  if (e.excerpt) {
    box.append(el('h3', 'Excerpt of the answer'));
    box.append(el('pre', e.excerpt, 'excerpt'));
  }
  box.hidden = false;
  // The view appears as it fills: a separate, always present live region
  // says what happened.
  live.textContent = title.textContent + (e.hintText ? '. ' + e.hintText : '');
}

/**
 * Shows a test connection's result (`tested.shape`), or hides it.
 * @param {any} shape
 */
export function renderTestResult(shape) {
  const box = byId('test-result');
  box.replaceChildren();
  if (!shape) { box.hidden = true; return; }
  const ok = shape.records > 0;
  box.append(el('h3', ok ? `Found ${n(shape.records)} records on the first page` : 'The first page holds no records', ok ? 'ok-title' : 'warn-title'));
  box.append(dl([
    ['First page', shape.url || '–'],
    ['Records at', shape.recordsAt === '' ? "'' (top-level array)" : shape.recordsAt ?? '–'],
    ['Total', shape.total === null || shape.total === undefined ? 'none announced' : n(shape.total)],
    ['Next page', shape.nextUrl || 'none (a single page)'],
    ['Columns', (shape.columns || []).join(', ') || '–'],
  ]));
  if (shape.sample) {
    const d = document.createElement('details');
    d.append(el('summary', 'First record'), el('pre', shape.sample, 'sample'));
    box.append(d);
  }
  box.hidden = false;
}

/**
 * Shows the resume prompt for a saved job, or hides it for `null`.
 * @param {any} saved the `SavedJob`
 */
export function renderResumePrompt(saved) {
  const box = byId('resume-prompt');
  if (!saved) { box.hidden = true; return; }
  const when = saved.createdAt ? new Date(saved.createdAt).toLocaleString() : 'earlier';
  const more = [saved.pages != null ? `${n(saved.pages)} pages` : null, saved.elapsedMs != null ? duration(saved.elapsedMs) : null].filter(Boolean).join(', ');
  const what = saved.kind === 'ids' ? 'fetch by ids' : 'sweep';
  let text = `A ${what}${saved.createdAt ? ' started ' + when : ''} ${saved.status === 'running' ? 'was interrupted' : saved.status === 'failed' ? 'failed' : 'was stopped'} after ${n(saved.rows)} rows${more ? ` (${more})` : ''}.`;
  if (saved.authType && saved.authType !== 'none') text += ` Enter the ${saved.authType} credentials again to resume: they are never saved.`;
  byId('resume-text').textContent = text;
  box.hidden = false;
}

/**
 * Shows a fetch by ids summary.
 * @param {{found: number, missing: number, error: number}|null} s
 */
export function renderIdsSummary(s, text) {
  const box = byId('ids-summary');
  box.replaceChildren();
  if (text) { box.textContent = text; return; }
  if (!s) return;
  for (const [k, cls] of [['found', 'ok'], ['missing', 'warn'], ['error', 'bad']]) {
    const span = el('span', `${n(s[k] || 0)} ${k}`, 'badge ' + cls);
    span.dataset[k] = String(s[k] || 0);
    box.append(span, ' ');
  }
  box.dataset.found = String(s.found || 0);
  box.dataset.missing = String(s.missing || 0);
  box.dataset.error = String(s.error || 0);
}
