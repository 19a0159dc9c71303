// IndexedDB for the worker: the saved job (store `job`, key 'current') and
// its rows (store `rows`, key [jobId, seq], one entry per flush).
// Credentials are never written here (see www/README.md, "Storage").

const DB_NAME = 'pagewise-dashboard';
const DB_VERSION = 1;
const CURRENT = 'current';

/** @type {Promise<IDBDatabase>|null} */
let opening = null;

/**
 * The database, opened once (and created on first use).
 * @returns {Promise<IDBDatabase>}
 */
export function openDb() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('job')) db.createObjectStore('job');
      if (!db.objectStoreNames.contains('rows')) db.createObjectStore('rows');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => { opening = null; reject(req.error); };
    req.onblocked = () => { opening = null; reject(new Error('IndexedDB is blocked by another tab')); };
  });
  return opening;
}

/**
 * A promise of a transaction's completion.
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * A promise of a request's result.
 * @template T
 * @param {IDBRequest<T>} req
 * @returns {Promise<T>}
 */
function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * The saved job, or null.
 * @returns {Promise<import('./protocol.js').SavedJob|null>}
 */
export async function getJob() {
  const db = await openDb();
  const tx = db.transaction('job', 'readonly');
  const job = await result(tx.objectStore('job').get(CURRENT));
  return job ?? null;
}

/**
 * Saves the job record alone (no rows).
 * @param {import('./protocol.js').SavedJob} job
 * @returns {Promise<void>}
 */
export async function putJob(job) {
  const db = await openDb();
  const tx = db.transaction('job', 'readwrite');
  tx.objectStore('job').put(job, CURRENT);
  await done(tx);
}

/**
 * One flush: the rows since the last one (as entry `seq`) and the job (its
 * checkpoint and counts) in one `readwrite` transaction, so a reload finds
 * either both or neither.
 * @param {import('./protocol.js').SavedJob & { chunks: number }} job  already updated by the caller
 * @param {number} seq
 * @param {string[]} rows  may be empty (then only the job is written)
 * @returns {Promise<void>}
 */
export async function saveFlush(job, seq, rows) {
  const db = await openDb();
  const tx = db.transaction(['job', 'rows'], 'readwrite');
  if (rows.length > 0) tx.objectStore('rows').put({ rows }, [job.id, seq]);
  tx.objectStore('job').put(job, CURRENT);
  await done(tx);
}

/**
 * Deletes the saved job and every row.
 * @returns {Promise<void>}
 */
export async function clearAll() {
  const db = await openDb();
  const tx = db.transaction(['job', 'rows'], 'readwrite');
  tx.objectStore('job').clear();
  tx.objectStore('rows').clear();
  await done(tx);
}

/**
 * Calls `onChunk(rows)` for each saved chunk of the job's rows, in order,
 * reading `perRead` entries per transaction (never all rows at once).
 * @param {string} jobId
 * @param {(rows: string[]) => (void|Promise<void>)} onChunk
 * @param {number} [perRead]
 * @returns {Promise<number>} the number of rows read
 */
export async function forEachChunk(jobId, onChunk, perRead = 8) {
  const db = await openDb();
  let next = 0;
  let count = 0;
  for (;;) {
    const tx = db.transaction('rows', 'readonly');
    const range = IDBKeyRange.bound([jobId, next], [jobId, Infinity]);
    const store = tx.objectStore('rows');
    const [values, keys] = await Promise.all([
      result(store.getAll(range, perRead)),
      result(store.getAllKeys(range, perRead)),
    ]);
    if (values.length === 0) return count;
    for (const v of values) {
      count += v.rows.length;
      await onChunk(v.rows);
    }
    const lastKey = /** @type {[string, number]} */ (keys[keys.length - 1]);
    next = lastKey[1] + 1;
  }
}
