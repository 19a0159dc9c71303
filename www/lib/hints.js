// From an error (a SerializedError, see protocol.js) and what was tried: the
// hint code and a plain sentence. The worker fills `hint`/`hintText` in; the
// page may call `hintText` to render one again.

/**
 * The sentence of a hint code.
 * @param {string|null} hint
 * @param {{ origin?: string }} [ctx]  `origin`: the page's origin (for `cors`)
 * @returns {string|null}
 */
export function hintText(hint, ctx = {}) {
  const origin = ctx.origin || (typeof location !== 'undefined' ? location.origin : 'this page');
  switch (hint) {
    case 'auth':
      return 'The server refused the credentials (401/403): check the auth type and the token, user and password or header, and re-enter them.';
    case 'cors':
      return `The server answered, but its CORS headers do not allow this page's origin (${origin}). A browser hides such answers: the API must send Access-Control-Allow-Origin for this origin (and expose X-Total-Count / Link if the pagination reads them).`;
    case 'mixed-content':
      return `This page is served over https and the API's URL is http: a browser blocks such requests (mixed content) before they are sent. Use the API's https URL, or open the dashboard over http.`;
    case 'unreachable':
      return 'The server could not be reached: check the base URL (scheme, host and port), that the server is running, and its https certificate.';
    case 'not-found':
      return 'The first page was not found (404): check the base URL and the collection path.';
    case 'records':
      return 'The answer holds no array of records where the records pointer says: check the records pointer (see the excerpt of the answer).';
    case 'rate-limit':
      return 'The server kept answering 429 (too many requests) until the retries ran out: lower the concurrency or set a rate limit, or raise the retries.';
    case 'config':
      return 'The options are not valid: check the fields the message names.';
    case 'timeout':
      return 'The server took too long to answer: raise the request timeout or lower the concurrency.';
    case 'server':
      return 'The server failed (5xx) until the retries ran out: try again later, or raise the retries.';
    default:
      return null;
  }
}

/**
 * The hint code of an error.
 * @param {{ kind: string, status: number|null, page: number|null, message: string }} error
 * @param {{ probe?: 'answered'|'failed'|null, pageProtocol?: string, url?: string|null }} [tried]
 *   `probe`: the result of {@link probeNoCors} for a transport error;
 *   `pageProtocol`: the page's `location.protocol`; `url`: the URL asked for
 * @returns {string|null}
 */
export function hintOf(error, tried = {}) {
  const { kind, status, page } = error;
  const message = error.message || '';
  if (status === 401 || status === 403 || kind === 'auth') return 'auth';
  if (kind === 'transport' || (kind === 'internal' && /failed to fetch|networkerror/i.test(message))) {
    if (tried.pageProtocol === 'https:' && isInsecure(tried.url ?? error.url)) return 'mixed-content';
    if (tried.probe === 'answered') return 'cors';
    if (tried.probe === 'failed') return 'unreachable';
    return 'unreachable';
  }
  if (status === 404 && (page === 0 || page === null || page === undefined)) return 'not-found';
  if (kind === 'decode' && /record|pointer|array/i.test(message)) return 'records';
  if (status === 429) return 'rate-limit';
  if (kind === 'config' || kind === 'url') return 'config';
  if (kind === 'timeout') return 'timeout';
  if (typeof status === 'number' && status >= 500) return 'server';
  return null;
}

/**
 * Whether a browser blocks `url` from an https page: an `http:` URL whose
 * host is not a loopback one (those count as secure).
 * @param {string|null|undefined} url
 */
function isInsecure(url) {
  if (typeof url !== 'string') return false;
  let u;
  try { u = new URL(url); } catch { return false; }
  if (u.protocol !== 'http:') return false;
  const host = u.hostname;
  return !(host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\./.test(host));
}

/**
 * Whether a server answers at all at `url`, CORS aside: a `no-cors` fetch
 * resolves (with an opaque answer) whenever the server answers, and rejects
 * when it cannot be reached. Sends no credential.
 * @param {string} url
 * @param {number} [timeoutMs]
 * @returns {Promise<'answered'|'failed'>}
 */
export async function probeNoCors(url, timeoutMs = 5000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    await fetch(url, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', signal: ctl.signal });
    return 'answered';
  } catch {
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}
