// Types of the npm package `pagewise` (hand-written; see index.js).

/** What went wrong, in one word (the Rust `ErrorKind`). */
export type ErrorKind =
  /** Invalid options: a page size of 0, an unknown option, a malformed JSON pointer or header. */
  | 'config'
  /** A URL could not be parsed or resolved: the base URL, a path, a next link. */
  | 'url'
  /** No HTTP answer: network failure, CORS refusal, a body cut off. */
  | 'transport'
  /** A request (`timeoutMs`) or the whole sweep (`deadlineMs`) ran out of time. */
  | 'timeout'
  /** The server answered with a non-success status; `status` and `excerpt` are set. */
  | 'status'
  /** The answer is not a page: not JSON, truncated, `null`, records missing or not an array. */
  | 'decode'
  /** A record does not fit the requested type (not raised by the JS API, which does no typing). */
  | 'record'
  /** The API sent the same cursor, next URL or keyset value twice. */
  | 'loop'
  /** Too many redirects. */
  | 'redirect'
  /**
   * A next link or a redirect leads to another origin than `baseUrl`'s, which
   * `allowOrigins` does not allow; `url` is the link (credentials removed).
   * Nothing was sent there.
   */
  | 'origin'
  /** Stopped by an `AbortSignal`. */
  | 'cancelled'
  /** A sweep with `verify: true` ended with fewer (or more) records than the API's total; the message says how many. */
  | 'incomplete'
  /**
   * A write may or may not have been applied: the server took it but its answer does
   * not say what became of the record (batch results missing, misplaced or miscounted),
   * or it got no answer and was not sent again. Check on the server before writing it again.
   */
  | 'outcome-unknown'
  /** The API announced a total above `maxTotal` (default 1 000 000 000), in an answer or a resumed checkpoint. */
  | 'limit'
  /** Two different pages were answered with the same records (a server whose pages start at 1 answering page 0, say: set `firstPage`); no copy was handed out. */
  | 'duplicate'
  | 'auth';

/** The optional context of a {@link PagewiseError}. */
export interface PagewiseErrorDetails {
  status?: number | null;
  url?: string | null;
  page?: number | null;
  excerpt?: string | null;
  cause?: unknown;
}

/** Every failure of pagewise (never a bare string). */
export declare class PagewiseError extends Error {
  constructor(kind: ErrorKind, message: string, details?: PagewiseErrorDetails);
  readonly name: 'PagewiseError';
  /** What went wrong, in one word. */
  readonly kind: ErrorKind;
  /** The HTTP status of the failing answer. */
  readonly status: number | null;
  /** The URL of the failing request, credentials removed. */
  readonly url: string | null;
  /** The page of the sweep (0-based, in page order) the error is about. */
  readonly page: number | null;
  /** The first characters of the failing answer's body. */
  readonly excerpt: string | null;
}

/**
 * How requests authenticate. Credentials are sent only to the base URL's
 * origin (scheme, host and port; see `allowOrigins`) and never appear in errors.
 */
export type Auth =
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly user: string; readonly password: string }
  | { readonly type: 'header'; readonly name: string; readonly value: string }
  | { readonly type: 'query'; readonly name: string; readonly value: string }
  /** Several secret headers (Supabase: `{ apikey: key, Authorization: 'Bearer ' + key }`). */
  | { readonly type: 'headers'; readonly headers: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]> }
  /**
   * Tokens from an OAuth 2.0 token endpoint (a form POST, RFC 6749), asked
   * before the first request, again before `expires_in` runs out (by
   * `refreshBeforeMs`, default the smaller of 30 s and a tenth of the
   * lifetime) and once on a 401. A rotated `refresh_token` is kept.
   * `tokenUrl` must be https (http only on a loopback host).
   */
  | {
      readonly type: 'oauth2';
      readonly grant: 'client_credentials' | 'refresh_token';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret?: string;
      readonly refreshToken?: string;
      readonly scope?: string;
      /** How the client authenticates to the endpoint: in the form body (default) or HTTP Basic. */
      readonly clientAuth?: 'body' | 'basic';
      readonly refreshBeforeMs?: number;
    }
  /**
   * Tokens from your function, sent as `Authorization: Bearer <token>`:
   * asked when a request needs one and again once on a 401 (that request
   * is sent again once; a second 401 fails with kind `auth`). One call at
   * a time per client; requests wait for it. Return `{ token, expiresInMs }`
   * to have it asked again before it expires. A rejection fails the
   * request with kind `auth` (retried like a network error).
   */
  | {
      readonly type: 'provider';
      readonly token: () => Promise<string | { readonly token: string; readonly expiresInMs?: number }> | string;
    };

/**
 * Where the total number of records is read: a header, a JSON pointer into the body, or `Content-Range`.
 * `optional: true` when the API may leave it out (JSON:API `meta` totals): an offset or page sweep
 * whose first page has none walks in sequence, without a `totalMissing` notice.
 */
export type Total =
  | { readonly header: string; readonly optional?: boolean }
  | { readonly pointer: string; readonly optional?: boolean }
  | { readonly 'content-range': true; readonly optional?: boolean }
  | 'content-range';

/** Where a cursor token or next URL is read: a JSON pointer into the body or a response header. */
export type LinkSource = { readonly pointer: string } | { readonly header: string };

/** `?offset=200&limit=100`. With a total, every page after the first is fetched concurrently. */
export interface OffsetPagination {
  readonly type: 'offset';
  readonly total?: Total;
  /** Default `offset`. */
  readonly offsetParam?: string;
  /** Default `limit`. */
  readonly limitParam?: string;
  /**
   * Ask with `Range-Unit: items` and `Range: 0-99` instead of the parameters
   * (PostgREST). Unless `total` is given, it is read from `Content-Range`
   * (optional: `0-99/*` walks in sequence); a 416 answer is the end.
   */
  readonly range?: boolean;
}

/** `?page=3&per_page=100`. With a total, every page after the first is fetched concurrently. */
export interface PagePagination {
  readonly type: 'page';
  /** Default 1. */
  readonly firstPage?: 0 | 1;
  readonly total?: Total;
  /** Default `page`. */
  readonly pageParam?: string;
  /** Default `per_page`; `null` sends no page size. */
  readonly sizeParam?: string | null;
}

/** Each page names the token of the next one, sent back as `param`. Sequential. */
export interface CursorPagination {
  readonly type: 'cursor';
  readonly from: LinkSource;
  /** Default `cursor`. */
  readonly param?: string;
  /** Default `limit`; `null` sends no page size. */
  readonly limitParam?: string | null;
  /** A JSON pointer to a boolean: `false` ends the sweep even with a cursor given. */
  readonly more?: string;
  /** Read for the report (`total`, `complete`), never fanned out from. */
  readonly total?: Total;
}

/** Each page links to the next one: in the body, a header, or the RFC 8288 `Link` header (`'link'`). Sequential. */
export interface NextPagination {
  readonly type: 'next';
  readonly from: LinkSource | 'link';
  /** The page-size parameter of the first request. Default `limit`; `null` sends none. */
  readonly limitParam?: string | null;
  /** Read for the report (Salesforce `{ pointer: '/totalSize' }`), never fanned out from. */
  readonly total?: Total;
}

/** `?id_gt=<last id>&limit=100`, the API ordering by `field`. Sequential. */
export interface KeysetPagination {
  readonly type: 'keyset';
  /** A top-level member of each record, or a JSON pointer such as `/meta/id`. */
  readonly field: string;
  /** Default `<field>_gt`. */
  readonly param?: string;
  /** The parameter's value, a template over `{value}` (default `{value}`): PostgREST `gt.{value}`. */
  readonly value?: string;
  /** Default `limit`; `null` sends no page size. */
  readonly limitParam?: string | null;
  /**
   * A JSON pointer to a boolean saying whether another page follows (Stripe
   * `/has_more`): `false` ends the sweep even after a full page.
   */
  readonly more?: string;
  /** Read for the report (`total`, `complete`), never fanned out from. */
  readonly total?: Total;
}

/** The pagination dialect of an API. */
export type Pagination =
  | OffsetPagination
  | PagePagination
  | CursorPagination
  | NextPagination
  | KeysetPagination;

/** A query or header value. */
export type Scalar = string | number | boolean;

/** Name/value pairs: a plain object, an array of pairs, or an iterable of them (`Map`, `URLSearchParams`, `Headers`). */
export type Pairs =
  | { readonly [name: string]: Scalar }
  | Iterable<readonly [string, Scalar]>;

/**
 * A token bucket bounding the retries of one sweep: each retry takes tokens
 * (a timeout retry more), each success gives some back; when it is empty,
 * failures are not retried. A 429 with `Retry-After` takes none.
 * Members left out take the defaults.
 */
export interface RetryBudget {
  /** Tokens at the start, and at most (default 500). */
  readonly capacity?: number;
  /** Tokens a retry takes (default 5). */
  readonly retryCost?: number;
  /** Tokens a retry after a timeout takes (default 10). */
  readonly timeoutCost?: number;
  /** Tokens a success gives back (default 1). */
  readonly successRefund?: number;
}

/**
 * How failed requests (429, 5xx, timeouts, broken connections, bodies that
 * are not a page) are retried: exponential backoff with full jitter,
 * `Retry-After` honoured. In list options, the members given replace the
 * client's; a `budget` object replaces the client's whole budget.
 */
export interface RetryPolicy {
  /** Retries of one request before its failure ends the operation (default 6; 0: never retry). */
  readonly maxRetries?: number;
  /** The first backoff's upper bound, in ms; it doubles with each retry (default 200). */
  readonly baseDelayMs?: number;
  /** The largest backoff, in ms (default 20000). */
  readonly maxDelayMs?: number;
  /** The longest `Retry-After` honoured, in ms; longer ones are clamped (default 120000). */
  readonly maxRetryAfterMs?: number;
  /** The retry budget of a sweep; `false` for none (only `maxRetries` bounds retries). Default: on. */
  readonly budget?: false | RetryBudget;
  /**
   * A 403 with `Retry-After`, or with a rate-limit header saying the budget
   * is spent (`X-RateLimit-Remaining: 0`), is a rate limit: retried after
   * the wait and pausing the pacer, like a 429 (GitHub). Default false.
   */
  readonly forbiddenRateLimit?: boolean;
}

/** At most `perSecond` requests per second, in bursts of at most `burst`. */
export interface RateLimit {
  /** Requests per second, a positive number. */
  readonly perSecond: number;
  /** The largest burst, an integer of at least 1. */
  readonly burst: number;
}

/** How requests are paced, over every operation of a client: a 429 pauses them all. */
export interface Pacing {
  /** A fixed rate limit (default none). */
  readonly rateLimit?: RateLimit | null;
  /**
   * Adapt to the server (default true): on a 429, a 502, 503 or 504 or a
   * request timeout, halve the concurrency (at most once per round of
   * requests) and, on a 429, slow the rate below what the server accepted;
   * after a run of successes, grow them again, never above the configured
   * concurrency.
   */
  readonly adaptive?: boolean;
  /** How long a 429 without `Retry-After` pauses the client, in ms (default 1000). */
  readonly cooldownWithoutRetryAfterMs?: number;
  /** The longest pause a `Retry-After` can impose, in ms (default 120000). */
  readonly maxCooldownMs?: number;
  /**
   * Follow the budget announced in `RateLimit-*`, `RateLimit` or
   * `X-RateLimit-*` headers (default true): half of what remains may go at
   * once, the rest is spread over the time to the reset, and at remaining 0
   * requests wait for the reset.
   */
  readonly rateLimitHeaders?: boolean;
}

/** What a client's shared pacer has done so far, over every operation. */
export interface PacingStats {
  /** Throttling answers (429, or 503 with `Retry-After`) received. */
  readonly throttles: number;
  /** Time during which a cooldown held every request back, in ms. */
  readonly throttledMs: number;
  /** Times the adaptive concurrency was halved. */
  readonly decreases: number;
  /** Times it grew by one. */
  readonly increases: number;
  /** Requests in flight now, over every operation of the client (at most `concurrency`). */
  readonly inFlight: number;
  /** The concurrency allowed now (adaptive, at most the configured one). */
  readonly concurrency: number;
  /** The request rate (per second) learnt from 429s; `null` if none was learnt. */
  readonly learntRate: number | null;
}

/**
 * How an API filters on an updated-at field, for delta syncs (`since`): a
 * query parameter whose name and value are templates over `{field}` and
 * `{value}`. The filter must be inclusive (`>=`).
 *
 * ```js
 * { param: '{field}_gte', value: '{value}' }                      // ?updated_at_gte=…  (the default)
 * { param: 'sysparm_query', value: '{field}>={value}', joiner: '^' } // ServiceNow
 * { param: '{field}', value: 'gte.{value}' }                      // PostgREST
 * ```
 */
export interface DeltaFilter {
  /** The parameter's name, a template (e.g. `{field}_gte`, `sysparm_query`). */
  readonly param: string;
  /** The parameter's value, a template (e.g. `{value}`, `{field}>={value}`). */
  readonly value: string;
  /** The record field (or JSON pointer) that identifies a record (default `id`). */
  readonly idField?: string;
  /**
   * What joins the filter to a value the request already has for the same
   * parameter (`^` for ServiceNow): `sysparm_query=active=true^sys_updated_on>=…`.
   * Without it, a request that already has the parameter is a `config` error
   * (never the parameter twice).
   */
  readonly joiner?: string;
  /**
   * How the watermark is written when the filter is sent (default `'as-is'`):
   * `'rfc3339'` `2026-01-02T03:04:05Z`, `'servicenow'` `2026-01-02 03:04:05`
   * (UTC), `'soql'` `2026-01-02T03:04:05Z`, `'unix'` seconds. Read from RFC 3339,
   * Salesforce's `…05.000+0000`, ServiceNow's format, a bare date or unix
   * seconds; anything else is a `config` error naming the value.
   */
  readonly format?: DeltaFormat;
  /**
   * `'soql'`: the condition (`value`, e.g. `{field} >= {value}`) is written
   * into the SOQL of the `param` parameter (`q`): `WHERE cond` or `AND cond`,
   * before `ORDER BY`, `LIMIT`, `OFFSET`. Default `'param'`.
   */
  readonly compose?: 'param' | 'soql';
}

/** How a delta filter writes its watermark. */
export type DeltaFormat = 'as-is' | 'rfc3339' | 'servicenow' | 'soql' | 'unix';

/** A JSON value (a list's `body` template). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [member: string]: JsonValue };

/** The description of an API. Unknown option names are errors. */
/**
 * An API pagewise knows by name (see the README's "Presets: name your API"):
 * its options under yours. `servicenow` and `salesforce` need `instance`;
 * `jsonapi`, `jsonapi-page` and `postgrest` need your `baseUrl`.
 */
export type PresetName =
  | 'servicenow'
  | 'salesforce'
  | 'github'
  | 'jsonapi'
  | 'jsonapi-page'
  | 'postgrest'
  | 'stripe';

/** Every preset's name, in the order the documentation lists them. */
export declare const PRESETS: readonly PresetName[];

/**
 * The options `new Client(options)` reads once the preset they name is
 * resolved: the preset's options with yours over them (objects member by
 * member; a `pagination` or `auth` of another `type` replaces the preset's;
 * `headers` and `query` by name; `null` replaces), the base URL filled in.
 * Not yet checked: `new Client` checks them. Throws a `PagewiseError` of
 * kind `config` for an unknown preset or a missing parameter.
 */
export declare function resolveOptions(options: ClientOptions): Record<string, unknown>;

/** The options of a client: `baseUrl`, or a `preset` that has one (or both). */
export type ClientOptions = ClientOptionsBase &
  (
    | {
        /** Collection paths are resolved under it: `items` under `https://h/v1` is `https://h/v1/items`. */
        readonly baseUrl: string;
        readonly preset?: PresetName;
      }
    | {
        /** Over the preset's base URL (a GitHub Enterprise server, a sandbox). */
        readonly baseUrl?: string;
        readonly preset: PresetName;
      }
  );

/** Every option of a client but `baseUrl` and `preset`. */
export interface ClientOptionsBase {
  /**
   * A preset's parameter: the instance's name in its base URL (`'acme'` for
   * `https://acme.service-now.com/api/now/table/`, a Salesforce My Domain name).
   */
  readonly instance?: string;
  /** A preset's parameter: the API version in its base URL (Salesforce, default `'60.0'`). */
  readonly apiVersion?: string;
  readonly auth?: Auth;
  /** Headers sent with every request to the base URL's origin, never to another. */
  readonly headers?: Pairs;
  /**
   * Query parameters added to every path asked for on the API's origin; a
   * link or redirect to another origin that repeats one loses it.
   */
  readonly query?: Pairs;
  /**
   * Where next links and redirects may lead besides the base URL's origin:
   * origins such as `'https://cdn.example'` or `'http://127.0.0.1:8080'`
   * (scheme, host, port; no path), or `'*'`. By default a link to another
   * origin fails with kind `origin` before anything is sent there. Allowed
   * or not, `auth`, `headers` and `query` go only to the base URL's origin.
   * In a browser, the browser follows redirects itself (without this check;
   * it drops only `Authorization` on the way to another origin).
   */
  readonly allowOrigins?: readonly string[] | '*';
  /** JSON pointer to the records of a page: `/data`, or `''` (default) for a top-level array. */
  readonly recordsAt?: string;
  /** Default: offset + limit without a total. */
  readonly pagination?: Pagination;
  /** Records asked for per page (default 100). */
  readonly pageSize?: number;
  /**
   * Requests in flight at once, over every operation of this client (default 8).
   * In a browser, against an `http:` base URL (HTTP/1.1: browsers open at most
   * 6 connections per origin), at most 6: more would wait inside the browser,
   * where pacing and timeouts cannot see them. `pacingStats().concurrency` says
   * what applies.
   */
  readonly concurrency?: number;
  /**
   * Finished pages that may wait for an earlier one (default: the concurrency;
   * in a browser held to 6 connections, the concurrency asked for).
   */
  readonly window?: number;
  /** How long one request may take, in ms (default 30000); `null` for no limit. */
  readonly timeoutMs?: number | null;
  /** How failed requests are retried (default: 6 retries, backoff 200 ms to 20 s, a budget). */
  readonly retry?: RetryPolicy;
  /** How requests are paced (default: adaptive, no fixed rate limit). */
  readonly pacing?: Pacing;
  /** How the API filters on an updated-at field for `since` (default `{ param: '{field}_gte', value: '{value}' }`). */
  readonly delta?: DeltaFilter;
  /**
   * The batch lookup of `fetchMany` when the call gives no `batch` (a
   * preset sets it). Its `path` may hold `{collection}`: the template
   * before `/{id}` (`incident` for `fetchMany('incident/{id}', ids)`).
   */
  readonly lookup?: BatchLookup;
  /**
   * The batch endpoint of the write jobs when the call gives no `batch` (a
   * preset sets it; `create`, `update` and `delete` never batch). Its paths
   * may hold `{collection}`: the job's path (`Account` for `insertMany('Account', ..)`).
   */
  readonly batchWrite?: BatchWrite;
  /**
   * Sends every request through this function instead of the global
   * `fetch` (which the package uses everywhere, in Node too, so a mock of
   * `globalThis.fetch` sees every request): a `fetch` with a proxy
   * dispatcher, say. Called as the global `fetch` can be:
   * `fetch(url, { method, headers, body, signal, redirect })`.
   */
  readonly fetch?: (input: string, init: FetchInit) => Promise<Response>;
  /**
   * Called with each request answered (or failed without an answer), over
   * every operation of this client; the same as the `request` events of
   * `onEvent`. URLs have their credentials removed. What it throws is
   * caught (reported once on the console): it never breaks an operation.
   */
  readonly onRequest?: (event: RequestEvent) => void;
  /**
   * Called with everything the client does, as it happens: requests,
   * retries, cooldowns, concurrency changes, notices, finished sweeps,
   * refreshed tokens (the events the Rust crate writes to its `log`
   * targets). What it throws is caught (reported once on the console).
   */
  readonly onEvent?: (event: ApiEvent) => void;
}

/** A request answered, or failed without an answer (`status: null`, `error` says why). */
export interface RequestEvent {
  readonly type: 'request';
  readonly method: string;
  /** The URL, credentials removed (a `query` auth's value, a user's password). */
  readonly url: string;
  /** The HTTP status; `null` when no answer came. */
  readonly status: number | null;
  /** From the request leaving to its answer (or failure), in ms. */
  readonly elapsedMs: number;
  /** The body's length in bytes (0 without an answer). */
  readonly bytes: number;
  /** Why no answer came (`timeout: ...`), or `null`. */
  readonly error: string | null;
  /** The event as a log line: `GET https://h/v1/items?offset=200&limit=100 -> 200 in 35 ms (12345 bytes)`. */
  readonly message: string;
}

/** A failed request to be sent again after `delayMs`. */
export interface RetryEvent {
  readonly type: 'retry';
  readonly method: string;
  /** The URL, credentials removed. */
  readonly url: string;
  /** This retry's number (1 for the first). */
  readonly attempt: number;
  /** Retries the policy allows. */
  readonly max: number;
  readonly delayMs: number;
  /** What failed: `429 (throttled)`, `503 (server error)`, `timeout`... */
  readonly cause: string;
  /** `retry 2 of 6 in 1.20 s after 429 (throttled): GET <url>`. */
  readonly message: string;
}

/** Something a client did, for logs and observers (`ClientOptions.onEvent`). */
export type ApiEvent =
  | RequestEvent
  | RetryEvent
  /** Every request of the client waits `waitMs` (a 429 started a cooldown). */
  | { readonly type: 'cooldown'; readonly waitMs: number; readonly cause: string; readonly message: string }
  /** The adaptive concurrency changed; `cause` is `'429'`, `'overloaded'`, or `''` for a step up. */
  | { readonly type: 'concurrency'; readonly from: number; readonly to: number; readonly cause: string; readonly message: string }
  /** The pacer learnt the server's request rate from its 429s. */
  | { readonly type: 'rateLearnt'; readonly perSecond: number; readonly message: string }
  /** The 429s do not come from a rate (load shedding), or (`on: false`) they do again. */
  | { readonly type: 'shedding'; readonly on: boolean; readonly message: string }
  /** A sweep reported something worth knowing. */
  | { readonly type: 'notice'; readonly notice: Notice; readonly message: string }
  /** A sweep ended; `complete` is `null` when unknown. */
  | {
      readonly type: 'sweepFinished';
      readonly records: number;
      readonly pages: number;
      readonly requests: number;
      readonly durationMs: number;
      readonly complete: boolean | null;
      readonly message: string;
    }
  /** A token was obtained or refreshed (the token is never in an event). */
  | { readonly type: 'tokenRefreshed'; readonly message: string };

/** What `ClientOptions.fetch` is called with, besides the URL. */
export interface FetchInit {
  readonly method: string;
  /** The request's headers, in order. */
  readonly headers: Headers;
  /** The request body; `null` for none. */
  readonly body: Uint8Array<ArrayBuffer> | null;
  /** Aborted when the request times out or its operation is cancelled. */
  readonly signal: AbortSignal;
  /**
   * `'manual'` in Node: a redirect is to be answered as it is, for pagewise
   * to follow (only where `allowOrigins` allows); absent in a browser.
   */
  readonly redirect?: 'manual';
}

/** Where a sweep is, after each page. */
export interface Progress {
  /** Pages handed out so far. */
  readonly pages: number;
  /** Pages the sweep will hand out in all, once known (a total, or the end); else `null`. */
  readonly pagesTotal: number | null;
  /** Records handed out so far. */
  readonly records: number;
  /** Records the sweep will hand out in all, once known; else `null`. */
  readonly recordsTotal: number | null;
  /** Bytes of the page bodies read so far. */
  readonly bytes: number;
  /** Estimated time left, in ms; `null` when unknown. */
  readonly etaMs: number | null;
  /** The total the API announced, if it announces one. */
  readonly total: number | null;
  /** Milliseconds since the sweep started. */
  readonly elapsedMs: number;
  /** Requests retried so far, every cause together. */
  readonly retries: number;
  /** The same retries by cause (429s, 5xx, timeouts, broken connections, bodies that were not a page). */
  readonly retriesByCause: RetryCounts;
  /** Time pages spent waiting because the server throttled, so far, in ms. */
  readonly throttledMs: number;
}

/**
 * Where a delta sync got to: the highest value of the updated-at `field`
 * seen, and the ids of the records that had exactly that value. Store it
 * (it is plain JSON) and pass it as `since` to the next sync.
 */
export interface Watermark {
  /** The updated-at field (or a JSON pointer). */
  readonly field: string;
  /** Its highest value seen, as sent back to the API. For a first sync: a point in time, e.g. `'1970-01-01T00:00:00Z'`. */
  readonly value: string;
  /** Ids of the records whose field had exactly `value` (`[]` for a first sync). */
  readonly ids: readonly string[];
}

/**
 * A checkpoint: JSON text saying where a sweep (or a job of many items) got
 * to. Store it anywhere; pass it back as `resume`, here, in another process,
 * or natively (`Checkpoint::from_json` / `ManyCheckpoint::from_json`).
 */
export type CheckpointJson = string;

/** The options of one sweep. Unknown option names are errors. */
export interface ListOptions {
  /** Query parameters of this collection (filters, field lists). */
  readonly query?: Pairs;
  /** `'page'` (default): the API's order. `'completion'`: as pages arrive. */
  readonly order?: 'page' | 'completion';
  /** Records per page (default: the client's). */
  readonly pageSize?: number;
  /** Pages in flight at once (default and maximum: the client's). */
  readonly concurrency?: number;
  /** Finished pages that may wait for an earlier one (default: the concurrency). */
  readonly window?: number;
  /** A deadline for the whole sweep, in ms: past it, the sweep fails with kind `timeout`. */
  readonly deadlineMs?: number;
  /** How failed requests are retried; the members given replace the client's. */
  readonly retry?: RetryPolicy;
  /**
   * Fail with kind `incomplete` when the sweep ends with fewer (or more)
   * records than the API's total (default false: the report's `complete` says it).
   */
  readonly verify?: boolean;
  /** Aborting it stops the sweep (requests in flight are aborted) with kind `cancelled`. */
  readonly signal?: AbortSignal;
  /** Called after each page. An exception thrown here stops the sweep and is passed on. */
  readonly onProgress?: (progress: Progress) => void;
  /**
   * A delta sync: only the records changed since this watermark (the query
   * gets the client's `delta` filter, by default `<field>_gte=<value>`;
   * records at the watermark already seen are dropped). The report's
   * `watermark` is where the next sync starts.
   */
  readonly since?: Watermark;
  /** Continue a sweep from a checkpoint (`stream().checkpoint()`, or a native one): pages handed out before are not fetched again. */
  readonly resume?: CheckpointJson;
  /**
   * The largest total accepted from the API (default 1 000 000 000): a larger
   * one, in an answer or a checkpoint, fails the sweep with kind `limit`.
   * Memory never depends on the total (pages are planned a few at a time).
   */
  readonly maxTotal?: number;
  /**
   * Accept two pages answered with the same records (default false: kind
   * `duplicate`, raised before the copy is handed out). Only for records that
   * may repeat byte for byte over a whole page (records without an id).
   */
  readonly allowRepeatedPages?: boolean;
  /**
   * Ask for pages with `POST` and this JSON body instead of query parameters
   * (GraphQL variables, search endpoints). The string values `"{offset}"`,
   * `"{limit}"`, `"{page}"`, `"{cursor}"` and `"{value}"` (keyset) are
   * replaced by the page's parameters (numbers as numbers; a cursor `null` on
   * the first page). The dialect's own placeholder is required.
   *
   * ```js
   * { body: { query: '...', variables: { first: '{limit}', after: '{cursor}' } } }
   * { body: { query: { match_all: {} }, from: '{offset}', size: '{limit}' } }
   * ```
   */
  readonly body?: JsonValue;
}

/** Where a job of many items is, after each result. */
export interface ManyProgress {
  /** Items handed out so far. */
  readonly done: number;
  /** Items in the job. */
  readonly total: number;
  /** Items that failed so far. */
  readonly failed: number;
  /** Writes whose outcome is unknown so far (`outcome: 'unknown'`; not counted in `failed`). */
  readonly unknown: number;
  /** Requests retried so far. */
  readonly retries: number;
  /** Time held back by throttling so far, in ms. */
  readonly throttledMs: number;
  readonly elapsedMs: number;
  /** Estimated time left, in ms; `null` when unknown. */
  readonly etaMs: number | null;
}

/** Looking several ids up per request: `GET path?param=1,2,3`. */
export interface BatchLookup {
  /** The lookup endpoint, e.g. `items`. */
  readonly path: string;
  /** The query parameter of the ids, e.g. `ids`. */
  readonly param: string;
  /** The parameter value, a template over `{ids}` (default `{ids}`; PostgREST: `in.({ids})`). */
  readonly value?: string;
  /** What joins the ids (default `,`). */
  readonly separator?: string;
  /** Ids per request at most (default 100). */
  readonly max?: number;
  /** JSON pointer to the records in the answer (default `/items`). */
  readonly recordsAt?: string;
  /** The record field that holds its id (default `id`). */
  readonly idField?: string;
}

/** The options shared by every job of many items. Unknown option names are errors. */
export interface ManyOptions {
  /** `'page'` (default): results in input order. `'completion'`: as they come. */
  readonly order?: 'page' | 'completion';
  /** Requests in flight at once (default and maximum: the client's). */
  readonly concurrency?: number;
  /** How failed requests are retried; the members given replace the client's. */
  readonly retry?: RetryPolicy;
  /** Aborting it stops the job (requests in flight are aborted) with kind `cancelled`. */
  readonly signal?: AbortSignal;
  /** Called as results come in. An exception thrown here stops the job and is passed on. */
  readonly onProgress?: (progress: ManyProgress) => void;
  /** Skip the items a checkpoint says are done (pass the same items, in the same order). */
  readonly resume?: CheckpointJson;
}

/** The options of one `fetchMany`. */
export interface FetchManyOptions extends ManyOptions {
  /**
   * Look several ids up per request instead of one `GET` per id; `null`:
   * one `GET` per id even where the client has a default `lookup`.
   */
  readonly batch?: BatchLookup | null;
}

/**
 * The ids or records of a job: an array (read at once), or another
 * iterable or async iterable (a generator, an async generator, another
 * stream mapped), read a chunk of 10,000 at a time as the job goes, so
 * memory holds one chunk, not the whole input. A checkpoint records
 * positions in the input: resume with the same input, in the same order.
 */
export type JobInput<T> = Iterable<T> | AsyncIterable<T>;

/** One id's result: its record, or its error (a missing record is kind `status`, status 404). */
export type Fetched<T = unknown> =
  | { readonly id: string; readonly record: T; readonly error?: undefined }
  | { readonly id: string; readonly record?: undefined; readonly error: PagewiseError };

/** The ops of a write job, for per-op `methods` and `paths`. */
export interface PerOp<T> {
  readonly insert?: T;
  readonly update?: T;
  readonly upsert?: T;
  readonly delete?: T;
}

/**
 * How a batch answer tells each record's outcome: `'items'` (default) one
 * result per record, in order, with `ok`, `status` or `errors`;
 * `'all-or-nothing'` no per-record results: a 2xx (with `okAt` true, when
 * set) writes every record, an error answer fails them all; `'by-position'`
 * the records written handed back in order (PostgREST
 * `Prefer: return=representation`), a returned record is written;
 * `'by-id'` the same, matched by id. An answer that does not say what
 * became of a record makes its outcome `'unknown'`, never `'failed'`.
 */
export type BatchResults = 'items' | 'all-or-nothing' | 'by-position' | 'by-id';

/**
 * A batch write endpoint: `POST path` with `{ op, records }`, answered with
 * one result per record, by default; every part can change. Paths may hold
 * `{collection}` (the job's path).
 */
export interface BatchWrite {
  /** The batch endpoint, e.g. `batch/items`. */
  readonly path: string;
  /** The body member naming the op (default `op`); `null`: none. */
  readonly opField?: string | null;
  /** The body member holding the records (default `records`); `null`: the body is the array. */
  readonly recordsField?: string | null;
  /** JSON pointer to the per-record results in the answer (default `/results`; `''` for a bare array). */
  readonly resultsAt?: string;
  /**
   * Names (or JSON pointers) of the members of one result (each defaults to its own
   * name). Salesforce's composite API: `{ ok: 'success', errors: 'errors' }`.
   */
  readonly resultFields?: BatchResultFields;
  /** Records per request at most (default 200). */
  readonly max?: number;
  /** Fixed members of every batch body (`{ allOrNone: false }`); query parameters of a delete with `deleteIdsParam`. */
  readonly members?: Readonly<Record<string, unknown>>;
  /** Members added to every record of the body (Salesforce `{ attributes: { type: 'Account' } }`). */
  readonly itemMembers?: Readonly<Record<string, unknown>>;
  /** How the answer tells each record's outcome (default `'items'`). */
  readonly results?: BatchResults;
  /** JSON pointer to a boolean of an all-or-nothing answer that must be `true` (`'/ok'`). */
  readonly okAt?: string;
  /** One record per request, as the records member's value (`{ row: {...} }` with `recordsField: 'row'`). */
  readonly single?: boolean;
  /** The HTTP method of each op's batches (default `POST`). */
  readonly methods?: PerOp<'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET'>;
  /** The path of each op's batches (default `path`). */
  readonly paths?: PerOp<string>;
  /** Deletes send the ids in this query parameter (`?ids=a,b`), and no body (Salesforce). */
  readonly deleteIdsParam?: string;
  /** Headers of every batch request (`{ Prefer: 'return=representation' }`). */
  readonly headers?: Pairs;
  /** Headers of one op's batch requests only (PostgREST: `{ upsert: { Prefer: 'resolution=merge-duplicates' } }`). */
  readonly opHeaders?: PerOp<Pairs>;
  /** The records' id field in jobs through this endpoint that give no `idField` (Salesforce: `Id`; default `id`). */
  readonly recordIdField?: string;
}

/**
 * Where a batch result says what became of its record. A result with `ok`
 * `true` is written; another `ok` is a failure; without `ok`, a 2xx `status`
 * is written and another status a failure; a non-empty `errors` array is a
 * failure; with none of them, the outcome is unknown (`'items'` results).
 */
export interface BatchResultFields {
  /** The success flag (default `ok`). */
  readonly ok?: string;
  /** The record's id (default `id`). */
  readonly id?: string;
  /** The record's HTTP status (default `status`). */
  readonly status?: string;
  /** The failure's message (default `error`). */
  readonly error?: string;
  /** An array of errors, `[{ statusCode, message, fields }]` (Salesforce; default: none). */
  readonly errors?: string;
}

/** The options of one write job (`insertMany`, `updateMany`, `upsertMany`, `deleteMany`). */
export interface WriteOptions extends ManyOptions {
  /** Through a batch endpoint, several records per request; `null`: one request per record even where the client has a default `batchWrite`. */
  readonly batch?: BatchWrite | null;
  /** Records per batch request (default: the batch endpoint's max). */
  readonly batchSize?: number;
  /** The idempotency header (default `Idempotency-Key`); `null` sends none, and then a write that may have reached the server is not retried. */
  readonly idempotencyHeader?: string | null;
  /** The record field holding its id, for update, upsert and delete (default `id`). */
  readonly idField?: string;
}

/**
 * One record's outcome in a write job: written (`'ok'`), failed (`'failed'`:
 * not written), or `'unknown'`: the server may have written it, but its
 * answer does not say (the error has kind `outcome-unknown`). Do not write
 * an unknown one again without checking: it may be written twice.
 */
export type WriteOutcome =
  | { readonly index: number; readonly outcome: 'ok'; readonly ok: true; readonly id: string | null; readonly status: number }
  | { readonly index: number; readonly outcome: 'failed'; readonly ok: false; readonly error: PagewiseError }
  | { readonly index: number; readonly outcome: 'unknown'; readonly ok: null; readonly error: PagewiseError };

/** The results of a `fetchManyStream`: iterated once; leaving the loop early stops the job. */
export interface FetchManyStream<T = unknown> extends AsyncIterable<Fetched<T>> {
  /** Which ids are done (handed out so far), for `resume`. */
  checkpoint(): CheckpointJson;
}

/** The options of one `get`. */
export interface GetOptions {
  readonly query?: Pairs;
  /** Aborting it aborts the request, with kind `cancelled`. */
  readonly signal?: AbortSignal;
}

/** Something worth knowing that did not stop a sweep. */
export type Notice =
  /** The total changed during the sweep: rows were added or removed meanwhile. */
  | { readonly type: 'totalChanged'; readonly from: number; readonly to: number; readonly page: number }
  /** A page in the middle of a planned sweep had fewer records than asked for. */
  | { readonly type: 'shortPage'; readonly page: number; readonly expected: number; readonly got: number }
  /** A page had more records than asked for: the extra ones (the next page's) were dropped. */
  | { readonly type: 'oversizedPage'; readonly page: number; readonly asked: number; readonly got: number }
  /** A total was configured but the answer had none: the sweep walked pages in sequence. */
  | { readonly type: 'totalMissing'; readonly page: number }
  /**
   * The API announced a request usage of at least 90% of its limit
   * (Salesforce `Sforce-Limit-Info`, the org's daily API request limit);
   * raised once per sweep.
   */
  | { readonly type: 'apiUsageHigh'; readonly used: number; readonly limit: number }
  /** A notice this version of the bindings has no shape for, described in words. */
  | { readonly type: 'other'; readonly message: string };

/** Retries of a sweep, by cause. */
export interface RetryCounts {
  /** 429s (and 503s with `Retry-After`) retried. */
  readonly throttled: number;
  /** 500, 502, 503 and 504 answers retried. */
  readonly serverError: number;
  /** 408s and request timeouts retried. */
  readonly timeout: number;
  /** Broken or refused connections retried. */
  readonly transport: number;
  /** 2xx answers whose body was not a page (truncated, empty, `null`) retried. */
  readonly badBody: number;
}

/** What a finished sweep did. */
export interface Report {
  /** Records handed out. */
  readonly records: number;
  /** Pages handed out. */
  readonly pages: number;
  /** HTTP requests answered. */
  readonly requests: number;
  /** The total the API announced last, if it announces one. */
  readonly total: number | null;
  /**
   * Whether the records handed out match the announced total and nothing
   * seen contradicts it (`false` too when the total changed during an
   * offset or page-number sweep, or a page came back shorter or longer than
   * asked for); `null` without a total.
   */
  readonly complete: boolean | null;
  readonly durationMs: number;
  /** The most pages held at once: at most concurrency + window; while pages wait out a retry delay, that again for each, up to 16 times. */
  readonly maxBufferedPages: number;
  /** The first 100 notices of the sweep. */
  readonly notices: readonly Notice[];
  /** Notices past the first 100: counted, not kept. */
  readonly noticesDropped: number;
  /** Retries, by cause. */
  readonly retries: RetryCounts;
  /** Time pages spent waiting because the server throttled, overlapping waits counted once, in ms. */
  readonly throttledMs: number;
  /**
   * The collection changed under an offset or page-number sweep (its total
   * changed, or a page came back shorter or longer than planned): rows may
   * have been missed or handed out twice. Cursor and keyset sweeps follow
   * the data and are not affected.
   */
  readonly changedDuringSweep: boolean;
  /** Bytes of the page bodies read. */
  readonly bytes: number;
  /** For a delta sync (`since`): where the next sync starts; `null` otherwise. */
  readonly watermark: Watermark | null;
  /**
   * The API request usage the answers announced (Salesforce
   * `Sforce-Limit-Info: api-usage=used/limit`), the latest seen; `null` when
   * none did. At 90% of the limit the sweep raises an `apiUsageHigh` notice.
   */
  readonly apiUsage: ApiUsage | null;
}

/** Requests used of an API's request limit, as the API announced it. */
export interface ApiUsage {
  /** Requests used. */
  readonly used: number;
  /** The limit (at least 1). */
  readonly limit: number;
}

/** One page of a sweep. */
export interface Page<T = unknown> {
  /** Position in page order (0-based). */
  readonly index: number;
  /** The URL it came from, credentials removed. */
  readonly url: string;
  /** The total the API announced so far, if it announces one. */
  readonly total: number | null;
  readonly records: T[];
}

/**
 * The records of one sweep. It starts on the first iteration and can be
 * iterated once; leaving the loop early (`break`, `return`, an exception)
 * stops the sweep: requests in flight are aborted, none start afterwards.
 */
export interface RecordStream<T = unknown> extends AsyncIterable<T> {
  /** The report, once the iteration finished; `null` before. */
  readonly report: Report | null;
  /**
   * Where the sweep is, for `resume` (here, in another process, or natively
   * with `Checkpoint::from_json`): records already taken from this iterable
   * are not handed out again. Exact to the record in page order; in
   * completion order, take it between pages. Throws (kind `config`) before
   * the iteration started.
   */
  checkpoint(): CheckpointJson;
}

/** The pages of one sweep; iterated like a {@link RecordStream}. */
export interface PageStream<T = unknown> extends AsyncIterable<Page<T>> {
  /** The report, once the iteration finished; `null` before. */
  readonly report: Report | null;
  /**
   * Where the sweep is, for `resume`: every page already taken from this
   * iterable counts as handed out, so a sweep resumed from it fetches none
   * of them again (take it after processing a page). Throws (kind `config`)
   * before the iteration started.
   */
  checkpoint(): CheckpointJson;
}

/** A client of one paginated JSON API. */
export declare class Client {
  /** @throws {PagewiseError} kind `config` or `url` for bad options. */
  constructor(options: ClientOptions);
  /** `GET path` (relative to `baseUrl`) and parse the JSON body. */
  get<T = unknown>(path: string, options?: GetOptions): Promise<T>;
  /** Every record of the collection, in one array. */
  list<T = unknown>(collection: string, options?: ListOptions): Promise<T[]>;
  /** Every record of the collection and the sweep's report. */
  listWithReport<T = unknown>(collection: string, options?: ListOptions): Promise<{ records: T[]; report: Report }>;
  /** The records of the collection as they arrive; memory holds at most concurrency + window pages (while pages wait out a `Retry-After`, that again for each, up to 16 times). */
  stream<T = unknown>(collection: string, options?: ListOptions): RecordStream<T>;
  /** The pages of the collection as they arrive. */
  pages<T = unknown>(collection: string, options?: ListOptions): PageStream<T>;
  /** What the client's shared pacer has done so far, over every operation. */
  pacingStats(): PacingStats;
  /** The record of every id: one `GET` per id from `template` (with `{id}`), or batched lookups. Results in input order by default. */
  fetchMany<T = unknown>(template: string, ids: JobInput<string | number>, options?: FetchManyOptions): Promise<Fetched<T>[]>;
  /** The results of a `fetchMany` as they come, with `checkpoint()`. */
  fetchManyStream<T = unknown>(template: string, ids: JobInput<string | number>, options?: FetchManyOptions): FetchManyStream<T>;
  /** Creates records (`POST path`, or the batch endpoint): one outcome per record, in input order. */
  insertMany(path: string, records: JobInput<unknown>, options?: WriteOptions): Promise<WriteOutcome[]>;
  /** Changes records (`PATCH path/{id}`, or the batch endpoint). */
  updateMany(path: string, records: JobInput<unknown>, options?: WriteOptions): Promise<WriteOutcome[]>;
  /** Creates or replaces records (`PUT path/{id}`, or the batch endpoint). */
  upsertMany(path: string, records: JobInput<unknown>, options?: WriteOptions): Promise<WriteOutcome[]>;
  /** Deletes records (`DELETE path/{id}`, or the batch endpoint); records may be bare ids. */
  deleteMany(path: string, records: JobInput<unknown>, options?: WriteOptions): Promise<WriteOutcome[]>;
  /**
   * Creates one record: `POST path`, with an `Idempotency-Key` and the
   * retries of the write jobs; resolves to the server's answer, parsed
   * (`null` for an empty one). Kind `outcome-unknown`: it may have been created.
   */
  create<T = unknown>(path: string, record: unknown, options?: SingleWriteOptions): Promise<T>;
  /** Changes one record: `PATCH path`; `{id}` in the path takes the record's `id` field. */
  update<T = unknown>(path: string, record: unknown, options?: SingleWriteOptions): Promise<T>;
  /** Deletes one record: `DELETE path` (`items/7`); resolves to the parsed answer, `null` for none. */
  delete<T = null>(path: string, options?: SingleWriteOptions): Promise<T>;
}

/** The options of `create`, `update` and `delete`. */
export interface SingleWriteOptions {
  /** Aborting it aborts the request, with kind `cancelled`. */
  readonly signal?: AbortSignal;
}
