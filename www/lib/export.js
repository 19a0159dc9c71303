// Export of the saved job's rows as NDJSON, CSV or JSON: a Blob built from
// parts, one per chunk read from IndexedDB, so no single string holds
// everything.

import { EXPORT_FORMATS, cellOf, cellText } from './protocol.js';
import { forEachChunk } from './store.js';

/**
 * One CSV field, quoted per RFC 4180 when it holds a comma, a quote, CR or
 * LF (or leading/trailing spaces); quotes doubled.
 * @param {string} s
 * @returns {string}
 */
export function csvField(s) {
  if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s)) return '"' + s.replace(/"/g, '""') + '"';
  return s;
}

/**
 * One CSV line (CRLF-terminated, as RFC 4180 says) of a row's JSON text.
 * @param {string} json
 * @param {string[]} columns
 * @returns {string}
 */
export function csvLine(json, columns) {
  let row;
  try { row = JSON.parse(json); } catch { row = json; }
  return columns.map((c) => csvField(cellText(cellOf(row, c)))).join(',') + '\r\n';
}

/**
 * The text of one chunk of rows in a format.
 * @param {'ndjson'|'csv'|'json'} format
 * @param {string[]} rows
 * @param {string[]} columns
 * @param {boolean} first  whether no row came before (JSON's commas)
 * @returns {string}
 */
export function chunkText(format, rows, columns, first) {
  if (format === 'ndjson') return rows.join('\n') + '\n';
  if (format === 'json') return (first ? '' : ',\n') + rows.join(',\n');
  let out = '';
  for (const r of rows) out += csvLine(r, columns);
  return out;
}

/**
 * A file name for an export: `pagewise-<collection>-<yyyymmdd-hhmmss>.<ext>`.
 * @param {string} collection
 * @param {'ndjson'|'csv'|'json'} format
 * @param {Date} [now]
 * @returns {string}
 */
export function exportFilename(collection, format, now = new Date()) {
  const name = String(collection || 'records').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'records';
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `pagewise-${name}-${stamp}.${EXPORT_FORMATS[format].ext}`;
}

/**
 * Every saved row of the job as one Blob in `format`.
 * @param {import('./protocol.js').SavedJob} job
 * @param {'ndjson'|'csv'|'json'} format
 * @returns {Promise<{ blob: Blob, filename: string, rows: number }>}
 */
export async function exportJob(job, format) {
  const spec = EXPORT_FORMATS[format];
  if (!spec) throw new Error(`unknown export format: ${format}`);
  const columns = job.columns ?? [];
  /** @type {string[]} */
  const parts = [];
  if (format === 'csv') parts.push(columns.map(csvField).join(',') + '\r\n');
  if (format === 'json') parts.push('[\n');
  let count = 0;
  // Parts are folded into a Blob every few chunks: the strings can then be
  // let go, and the browser holds the bytes (a Blob of Blobs copies none).
  let blob = new Blob([], { type: spec.type });
  await forEachChunk(job.id, (rows) => {
    if (rows.length === 0) return;
    parts.push(chunkText(format, rows, columns, count === 0));
    count += rows.length;
    if (parts.length >= 8) blob = new Blob([blob, ...parts.splice(0)], { type: spec.type });
  });
  if (format === 'json') parts.push('\n]\n');
  blob = new Blob([blob, ...parts], { type: spec.type });
  return { blob, filename: exportFilename(job.config?.collection, format), rows: count };
}
