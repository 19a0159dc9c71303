// The live charts (uPlot): one point per `tick`, at most every 250 ms.
// Each chart's figure keeps `data-points` (time points received) and a line
// of text with the latest values (the charts' text alternative).

/** @type {any} the uPlot constructor, once loaded */
let uPlot = null;
const ready = import('../../vendor/uplot/uPlot.esm.js')
  .then((m) => { uPlot = m.default; })
  .catch(() => { uPlot = null; });

/** The span the records rate is averaged over, in seconds. */
const RATE_WINDOW_S = 1;
/** The charts are redrawn at most this often, in ms (a point per tick still counts at once). */
const REDRAW_MS = 500;

const C = {
  blue: '#1f5fbf', orange: '#c2570c', green: '#1d7a3a', red: '#b42318', purple: '#6941c6', grey: '#667085', teal: '#0e7490',
};

/** Chart definitions: the series (after x) and how a tick maps to their values. */
const DEFS = {
  rate: {
    id: 'chart-rate',
    series: [{ label: 'records/s', stroke: C.blue, fill: 'rgba(31,95,191,0.08)', width: 1.5 }],
    text: (v) => `${fmt(v[0])} records/s`,
  },
  flight: {
    id: 'chart-flight',
    series: [
      { label: 'in flight', stroke: C.blue, width: 1.5 },
      { label: 'limit', stroke: C.orange, width: 1.5, stepped: true },
      { label: 'configured', stroke: C.grey, width: 1, dash: [4, 4] },
    ],
    text: (v) => `${fmt(v[0])} in flight, limit ${fmt(v[1])} of ${fmt(v[2])} configured`,
  },
  retries: {
    id: 'chart-retries',
    series: [
      { label: '429s', stroke: C.red, width: 1.5, stepped: true },
      { label: '5xx', stroke: C.orange, width: 1.5, stepped: true },
      { label: 'timeout', stroke: C.purple, width: 1.5, stepped: true },
      { label: 'transport', stroke: C.teal, width: 1.5, stepped: true },
      { label: 'bad body', stroke: C.grey, width: 1.5, stepped: true },
    ],
    text: (v) => `last interval: ${v[0]} 429s; retries: ${v[1]} 5xx, ${v[2]} timeout, ${v[3]} transport, ${v[4]} bad body`,
  },
  throttle: {
    id: 'chart-throttle',
    series: [
      { label: 'throttled (s)', stroke: C.red, fill: 'rgba(180,35,24,0.07)', width: 1.5 },
      { label: 'learnt rate (req/s)', stroke: C.green, width: 1.5, scale: 'rate' },
    ],
    text: (v) => `${fmt(v[0], 1)} s throttled in all; learnt rate ${v[1] == null ? 'none' : fmt(v[1], 1) + ' req/s'}`,
  },
};

function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits });
}

/**
 * The four charts of a job. `push(tick)` adds a point to each; `reset()`
 * empties them (a new job).
 */
export class Charts {
  constructor() {
    /** @type {Record<string, {def: any, fig: HTMLElement, plot: HTMLElement, latest: HTMLElement, data: number[][], u: any}>} */
    this.charts = {};
    this.prev = null;
    /** @type {{t: number, records: number}[]} recent points for the rate */
    this.window = [];
    this.pending = false;
    this.lastPass = 0;
    for (const [key, def] of Object.entries(DEFS)) {
      const fig = /** @type {HTMLElement} */ (document.getElementById(def.id));
      this.charts[key] = {
        def, fig,
        plot: /** @type {HTMLElement} */ (fig.querySelector('.plot')),
        latest: /** @type {HTMLElement} */ (fig.querySelector('.latest')),
        data: [[], ...def.series.map(() => [])],
        u: null,
        dirty: false,
      };
      def.caption = fig.querySelector('figcaption').textContent;
    }
    ready.then(() => this.create());
    let t = 0;
    new ResizeObserver(() => { clearTimeout(t); t = setTimeout(() => this.resize(), 100); })
      .observe(document.querySelector('.charts'));
  }

  create() {
    for (const ch of Object.values(this.charts)) {
      if (!uPlot) { ch.plot.textContent = 'Chart library not loaded (../vendor/uplot/): values below.'; continue; }
      ch.u = new uPlot(this.options(ch), ch.data, ch.plot);
    }
  }

  options(ch) {
    const { width, height } = size(ch.plot);
    const hasRate = ch.def.series.some((s) => s.scale === 'rate');
    const axes = [
      { stroke: '#344054', grid: { stroke: '#eaecf0' }, ticks: { stroke: '#d0d5dd' }, values: (u, vals) => vals.map((v) => v + 's'), font: '11px system-ui, sans-serif', size: 28 },
      { stroke: '#344054', grid: { stroke: '#eaecf0' }, ticks: { stroke: '#d0d5dd' }, font: '11px system-ui, sans-serif', size: 54 },
    ];
    if (hasRate) axes.push({ scale: 'rate', side: 1, stroke: C.green, grid: { show: false }, font: '11px system-ui, sans-serif', size: 44 });
    return {
      width, height,
      pxAlign: 0,
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      legend: { show: true, live: false },
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, ...(hasRate ? { rate: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] } } : {}) },
      axes,
      series: [
        { label: 't', value: (u, v) => (v == null ? '–' : fmt(v, 1) + ' s') },
        ...ch.def.series.map((s) => ({
          label: s.label, stroke: s.stroke, width: s.width, fill: s.fill, dash: s.dash, scale: s.scale || 'y',
          points: { show: false },
          paths: s.stepped && uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
          value: (u, v) => (v == null ? '–' : fmt(v, 1)),
        })),
      ],
    };
  }

  resize() {
    for (const ch of Object.values(this.charts)) if (ch.u) ch.u.setSize(size(ch.plot));
  }

  /** Empties every chart (a new job). */
  reset() {
    this.prev = null;
    this.window = [];
    for (const ch of Object.values(this.charts)) {
      ch.data = [[], ...ch.def.series.map(() => [])];
      ch.fig.dataset.points = '0';
      ch.latest.textContent = '';
      if (ch.u) ch.u.setData(ch.data);
    }
  }

  /**
   * Adds one point per chart from a `tick` message.
   * @param {{t: number, progress: any, stats: any}} tick
   */
  push(tick) {
    const p = tick.progress || {};
    const s = tick.stats || {};
    const by = p.retriesByCause || null;
    const cur = {
      t: tick.t / 1000,
      records: p.records ?? p.done ?? 0,
      throttles: s.throttles ?? 0,
      by: by || { throttled: 0, serverError: p.retries ?? 0, timeout: 0, transport: 0, badBody: 0 },
    };
    let prev = this.prev;
    if (!prev || cur.t < prev.t || cur.records < prev.records) {
      prev = { t: 0, records: cur.records, throttles: cur.throttles, by: cur.by };
      this.window = [];
    }
    const d = (a, b) => Math.max(0, (a || 0) - (b || 0));
    // Records per second over the last second: rows arrive in flushes, so
    // one interval alone would swing between 0 and a burst.
    this.window.push({ t: cur.t, records: cur.records });
    while (this.window.length > 2 && cur.t - this.window[1].t >= RATE_WINDOW_S) this.window.shift();
    const w0 = this.window[0];
    const rate = this.window.length > 1 ? d(cur.records, w0.records) / Math.max(0.001, cur.t - w0.t) : cur.records / Math.max(cur.t, 0.25);
    const values = {
      rate: [rate],
      flight: [s.inFlight ?? null, s.concurrency ?? null, s.configuredConcurrency ?? null],
      retries: [d(cur.throttles, prev.throttles), d(cur.by.serverError, prev.by.serverError), d(cur.by.timeout, prev.by.timeout), d(cur.by.transport, prev.by.transport), d(cur.by.badBody, prev.by.badBody)],
      throttle: [(p.throttledMs ?? s.throttledMs ?? 0) / 1000, s.learntRate ?? null],
    };
    this.prev = cur;
    for (const [key, ch] of Object.entries(this.charts)) {
      ch.data[0].push(cur.t);
      values[key].forEach((v, i) => ch.data[i + 1].push(v));
      ch.fig.dataset.points = String(ch.data[0].length);
    }
    this.schedule(values);
  }

  /**
   * Redraws the charts one per animation frame (ticks may arrive in a
   * burst; four redraws in one frame would make one long task).
   */
  schedule(values) {
    this.latestValues = values;
    for (const ch of Object.values(this.charts)) ch.dirty = true;
    if (this.pending) return;
    this.pending = true;
    const step = () => {
      const ch = Object.values(this.charts).find((c) => c.dirty);
      if (!ch) { this.pending = false; return; }
      ch.dirty = false;
      this.draw(ch);
      requestAnimationFrame(step);
    };
    // At most one redraw pass per REDRAW_MS: ticks come every 250 ms.
    const wait = Math.max(0, this.lastPass + REDRAW_MS - performance.now());
    setTimeout(() => { this.lastPass = performance.now(); requestAnimationFrame(step); }, wait);
  }

  draw(ch) {
    const key = Object.keys(this.charts).find((k) => this.charts[k] === ch);
    const text = ch.def.text(this.latestValues[key]);
    if (ch.latest.textContent !== text) {
      ch.latest.textContent = text;
      ch.fig.setAttribute('aria-label', ch.def.caption + ': ' + text);
    }
    if (ch.u) ch.u.setData(ch.data);
  }
}

function size(el) {
  const w = Math.max(200, Math.floor(el.clientWidth || 300));
  return { width: w, height: 150 };
}
