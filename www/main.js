// The dashboard's boot, page state and worker wiring. The sweep runs in the
// worker (www/worker.js, where the WebAssembly module lives); this page only
// renders what the worker posts (see www/lib/protocol.js).

import { TO_WORKER as TO, FROM_WORKER as FROM } from './lib/protocol.js';
import { initForm, readConfig, fillForm, authProblem, formProblem, firstAuthInput, lockForm } from './lib/form.js';
import { VirtualTable } from './lib/table.js';
import { Charts } from './lib/charts.js';
import {
  renderProgress, progressMessage, resetProgress, renderReport, renderError,
  renderTestResult, renderResumePrompt, renderIdsSummary, n, duration,
} from './lib/views.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @typedef {'idle'|'testing'|'running'|'stopped'|'done'|'failed'} State */

const page = {
  /** @type {State} */ state: 'idle',
  /** what the worker is doing: null | 'test' | 'records' | 'ids' | 'load' */
  busy: /** @type {null|string} */ (null),
  /** the saved job a resume would continue, or null */
  saved: /** @type {any} */ (null),
  /** the state to return to after a test connection */
  before: /** @type {State} */ ('idle'),
  kind: /** @type {'records'|'ids'} */ ('records'),
  /** the worker answered hello */
  ready: false,
  /** the worker cannot go on (it did not load, crashed, or a message was lost): reload */
  dead: false,
  /** an export is being built (it reads the saved rows: nothing may replace them meanwhile) */
  exporting: false,
};

const table = new VirtualTable($('table'), {
  onOpen: showJson,
  onCount: setCount,
});
const charts = new Charts();
const worker = startWorker();

/** @param {State} s */
function setState(s) {
  page.state = s;
  document.body.dataset.state = s;
  $('state-label').textContent = s;
  syncButtons();
}

function syncButtons() {
  const running = page.busy === 'records' || page.busy === 'ids';
  const busy = page.busy !== null || page.dead || page.exporting;
  const noRows = table.rows.length === 0;
  const dis = (id, v) => { /** @type {HTMLButtonElement} */ ($(id)).disabled = v; };
  dis('start', busy);
  dis('test-connection', busy);
  dis('stop', page.dead || !(running || page.busy === 'test'));
  dis('fetch-ids', busy);
  dis('resume', busy || !page.saved);
  dis('discard', busy || (!page.saved && noRows));
  for (const id of ['export-ndjson', 'export-csv', 'export-json']) dis(id, noRows || page.busy === 'load' || page.dead || page.exporting);
  lockForm(running);
}

function setCount(count) {
  const el = $('row-count');
  el.textContent = n(count);
  el.dataset.count = String(count);
  if ((count === 0) !== (/** @type {HTMLButtonElement} */ ($('export-ndjson')).disabled)) syncButtons();
}

function showJson(index, text) {
  let pretty;
  try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { pretty = String(text); }
  const pre = $('record-json');
  pre.textContent = pretty;
  pre.dataset.index = String(index);
  $('h-json').textContent = `Record JSON · row ${n(index + 1)}`;
}

/** Focuses a form input, opening the `<details>` group it is folded in. */
function reveal(input) {
  if (!input) return;
  const group = input.closest('details');
  if (group) /** @type {HTMLDetailsElement} */ (group).open = true;
  input.focus();
}

function formMessage(text) {
  $('form-message').textContent = text || '';
}

// ---- the worker -------------------------------------------------------------

function startWorker() {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'pagewise' });
  w.addEventListener('message', (e) => onMessage(e.data));
  w.addEventListener('error', (e) => {
    e.preventDefault();
    workerLost('The worker could not start or crashed' + (e.message ? ': ' + e.message : '.'));
  });
  w.addEventListener('messageerror', () => {
    // A lost `rows` message would leave a hole in the table: stop the job
    // (its rows are saved) and have the page reloaded, which shows them all.
    send({ type: TO.STOP });
    workerLost('A message from the worker could not be read; the job was stopped (its rows are saved).');
  });
  return w;
}

/**
 * The worker cannot go on: every control but the form is disabled, and the
 * error says to reload (a saved sweep is offered again then).
 * @param {string} message
 */
function workerLost(message) {
  page.dead = true;
  page.busy = null;
  renderError({ kind: 'worker', message, status: null, url: null, page: null, excerpt: null, hint: null, hintText: 'Reload the page; if it persists, check that the npm package is built (npm run build) and served under /npm/.' });
  setState('failed');
}

/** @param {any} msg */
function send(msg) {
  worker.postMessage(msg);
}

/** @param {any} m a message from the worker */
function onMessage(m) {
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case FROM.READY: return onReady(m);
    case FROM.TESTED: return onTested(m);
    case FROM.ROWS: return table.put(m.from, m.rows, m.columns);
    case FROM.TICK: return onTick(m);
    case FROM.DONE: return onDone(m);
    case FROM.STOPPED: return onStopped(m);
    case FROM.FAILED: return onFailed(m);
    case FROM.LOADED: return onLoaded(m);
    case FROM.DISCARDED: return onDiscarded();
    case FROM.EXPORTED: return onExported(m);
    default: return undefined;
  }
}

function onReady(m) {
  if (page.ready) return;
  page.ready = true;
  initForm(m.presets || [], m.presetNeeds || {});
  const saved = m.saved;
  if (saved) {
    fillForm(saved.config || {}, saved.authType || 'none');
    page.kind = saved.kind === 'ids' ? 'ids' : 'records';
    // A sweep that was interrupted, stopped or failed continues from its
    // checkpoint (the worker resumes any saved sweep not done); a fetch by
    // ids does not resume.
    if (saved.kind === 'records' && saved.status !== 'done') {
      page.saved = saved;
      renderResumePrompt(saved);
    }
    if (saved.report) renderReport(saved.report, 'Report of the saved sweep');
    progressMessage(`Saved ${saved.kind === 'ids' ? 'fetch by ids' : 'sweep'}: ${n(saved.rows)} rows, ${n(saved.pages)} pages, ${duration(saved.elapsedMs)} (${saved.status}). Loading its rows…`);
    page.busy = 'load';
    send({ type: TO.LOAD });
  }
  syncButtons();
}

function onTested(m) {
  page.busy = null;
  renderTestResult(m.shape);
  setState(page.before === 'testing' ? 'idle' : page.before);
}

function onTick(m) {
  const kind = m.kind || (m.progress && 'done' in m.progress ? 'ids' : 'records');
  renderProgress(m.progress || {}, kind);
  charts.push(m);
}

function onDone(m) {
  const wasIds = m.kind === 'ids' || 'summary' in m;
  page.busy = null;
  if (wasIds) {
    renderIdsSummary(m.summary || null);
    progressMessage(`Fetch by ids done: ${n(m.summary?.found)} found, ${n(m.summary?.missing)} missing, ${n(m.summary?.error)} errors.`, true);
  } else {
    page.saved = null;
    renderResumePrompt(null);
    renderReport(m.report || null, m.resumedFrom > 0 ? `Report of the resumed run (from row ${n(m.resumedFrom)})` : 'Report');
    const r = m.report || {};
    const resumed = m.resumedFrom > 0 ? ` (resumed at row ${n(m.resumedFrom)}: this run ${n(r.records)} records, ${n(r.pages)} pages, ${n(r.requests)} requests in ${duration(r.durationMs)})` : `, ${n(r.pages)} pages, ${n(r.requests)} requests in ${duration(r.durationMs)}`;
    progressMessage(`Done: ${n(m.records ?? r.records ?? table.rows.length)} records${resumed}${r.complete === false ? '; incomplete: see the report' : ''}.`, true);
  }
  setState('done');
}

function onStopped(m) {
  const kind = page.busy;
  // A stop that reached the worker after its job ended: nothing stopped.
  if (m.idle || (kind !== 'records' && kind !== 'ids')) return;
  page.busy = null;
  progressMessage(`Stopped after ${n(m.records ?? table.rows.length)} records. Resume continues where it stopped.`);
  if (kind === 'records') {
    page.saved = { kind, status: 'stopped', rows: table.rows.length, pages: null, elapsedMs: null, authType: readConfig().auth.type, createdAt: null };
    renderResumePrompt(page.saved);
  }
  setState('stopped');
}

function onFailed(m) {
  if (m.fatal) {
    workerLost(`The worker failed: ${m.error?.message ?? 'unknown failure'}`);
    return;
  }
  // An export or a discard failed: say so; whatever runs goes on.
  if (m.of === TO.EXPORT) page.exporting = false;
  if (m.of === TO.EXPORT || m.of === TO.DISCARD) {
    renderError(m.error || { kind: 'internal', message: 'Unknown failure.' }, m.of === TO.EXPORT ? 'Export' : 'Discard');
    progressMessage(m.of === TO.EXPORT ? 'The export failed: see the error above.' : 'Discarding failed: see the error above.');
    syncButtons();
    return;
  }
  const was = page.busy;
  if (was === 'test' && m.error?.kind === 'cancelled') {
    page.busy = null;
    renderTestResult(null);
    formMessage('Test connection stopped.');
    setState(page.before === 'testing' ? 'idle' : page.before);
    return;
  }
  page.busy = null;
  const context = was === 'test' ? 'Test connection' : was === 'ids' ? 'Fetch by ids' : was === 'records' ? 'Sweep' : was === 'load' ? 'Loading the saved rows' : '';
  renderError(m.error || { kind: 'internal', message: 'Unknown failure.' }, context);
  if (was === 'records' && table.rows.length === 0) progressMessage('Failed before the first page: see the error above.');
  if (was === 'records' && table.rows.length > 0) {
    progressMessage(`Failed after ${n(table.rows.length)} records: see the error above. The rows so far are kept; Resume retries from the last checkpoint.`);
    page.saved = { kind: 'records', status: 'stopped', rows: table.rows.length, pages: null, elapsedMs: null, authType: readConfig().auth.type, createdAt: null };
    renderResumePrompt(page.saved);
  }
  if (was === 'ids') renderIdsSummary(null, 'Failed: see the error above.');
  if (was === null && page.state !== 'testing') { syncButtons(); return; } // an export failed: the state stays
  setState('failed');
}

function onLoaded(m) {
  page.busy = null;
  const s = page.saved;
  progressMessage(`Loaded ${n(m.count)} saved rows.` + (s ? ' Resume to continue the sweep, or Discard it.' : ''));
  syncButtons();
}

function onDiscarded() {
  page.saved = null;
  renderResumePrompt(null);
  table.reset();
  charts.reset();
  renderReport(null);
  resetProgress();
  progressMessage('Saved sweep discarded.');
  setState('idle');
}

function onExported(m) {
  page.exporting = false;
  syncButtons();
  const url = URL.createObjectURL(m.blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = m.filename || 'records';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  formMessage('');
  progressMessage(`Exported ${n(m.rows)} rows as ${m.filename}.`);
}

// ---- user actions -------------------------------------------------------

/** Starts a records job (`start` or `resume`) after checking the form. */
function runJob(type) {
  // A resume goes on with the saved options: only the credentials count.
  const problem = type === TO.RESUME ? (authProblem() ? { message: authProblem(), input: firstAuthInput() } : null) : formProblem();
  if (problem) {
    formMessage(problem.message);
    reveal(problem.input);
    return;
  }
  formMessage('');
  const config = readConfig();
  renderError(null);
  renderReport(null);
  renderTestResult(null);
  charts.reset();
  resetProgress();
  if (type === TO.START) {
    table.reset();
    page.saved = null;
    renderResumePrompt(null);
  } else {
    renderResumePrompt(null);
    progressMessage('Resuming…');
  }
  page.kind = 'records';
  page.busy = 'records';
  setState('running');
  send({ type, config });
}

function testConnection() {
  const problem = formProblem();
  if (problem) { formMessage(problem.message); reveal(problem.input); return; }
  formMessage('');
  renderError(null);
  renderTestResult(null);
  page.before = page.state === 'failed' ? 'idle' : page.state;
  page.busy = 'test';
  setState('testing');
  send({ type: TO.TEST, config: readConfig() });
}

/** Splits pasted or uploaded text into ids (lines, commas, whitespace; a JSON array too). */
function parseIds(text) {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      const arr = JSON.parse(t);
      if (Array.isArray(arr)) return arr.map(String).filter(Boolean);
    } catch { /* fall through */ }
  }
  return t.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

function fetchIds() {
  const ids = parseIds(/** @type {HTMLTextAreaElement} */ ($('ids-input')).value);
  if (!ids.length) { renderIdsSummary(null, 'Enter or upload some ids first.'); $('ids-input').focus(); return; }
  const problem = formProblem({ dialect: false });
  if (problem) { renderIdsSummary(null, problem.message); reveal(problem.input); return; }
  const config = readConfig();
  renderError(null);
  renderReport(null);
  renderIdsSummary(null, `Fetching ${n(ids.length)} ids…`);
  table.reset();
  charts.reset();
  resetProgress();
  page.kind = 'ids';
  page.busy = 'ids';
  page.saved = null;
  renderResumePrompt(null);
  setState('running');
  send({ type: TO.IDS, config, ids });
}

async function readIdsFile() {
  const input = /** @type {HTMLInputElement} */ ($('ids-file'));
  const file = input.files && input.files[0];
  if (!file) return;
  const text = await file.text();
  const ta = /** @type {HTMLTextAreaElement} */ ($('ids-input'));
  ta.value = parseIds(text).join('\n');
  renderIdsSummary(null, `${n(parseIds(text).length)} ids read from ${file.name}.`);
}

function wire() {
  $('connect-form').addEventListener('submit', (e) => { e.preventDefault(); if (!page.busy) runJob(TO.START); });
  $('test-connection').addEventListener('click', testConnection);
  $('stop').addEventListener('click', () => {
    progressMessage(page.busy === 'test' ? 'Stopping the test connection…' : 'Stopping after the current pages are saved…');
    send({ type: TO.STOP });
  });
  $('resume').addEventListener('click', () => runJob(TO.RESUME));
  $('discard').addEventListener('click', () => send({ type: TO.DISCARD }));
  $('fetch-ids').addEventListener('click', fetchIds);
  $('ids-file').addEventListener('change', () => { readIdsFile().catch(() => renderIdsSummary(null, 'The file could not be read.')); });
  for (const format of ['ndjson', 'csv', 'json']) {
    $('export-' + format).addEventListener('click', () => {
      progressMessage(`Exporting ${format.toUpperCase()}…`);
      page.exporting = true;
      syncButtons();
      send({ type: TO.EXPORT, format });
    });
  }
}

/**
 * Says hello until the worker answers. The npm package initialises its
 * WebAssembly with a top-level await, and a module worker's messages that
 * arrive before its listener exists are lost: so hello is sent again every
 * 250 ms (a second `ready` is ignored).
 */
function hello() {
  let tries = 0;
  const again = () => {
    if (page.ready) return;
    if (++tries > 120) {
      workerLost('The worker did not answer within 30 s.');
      return;
    }
    send({ type: TO.HELLO });
    setTimeout(again, 250);
  };
  again();
}

wire();
initForm([]);
setState('idle');
hello();
