// The OTLP/HTTP trace receiver, POST /v1/traces: spans from browsers (JSON or protobuf, gzip
// or not) become runtime_metrics rows. Browser-facing, so it is bounded everywhere: a CORS
// allowlist, a body limit that holds after decompression, a rate limit per client, a span
// limit per request and truncated attributes. A 2xx means the rows are committed; 429 and 503
// carry Retry-After, as OTLP clients retry exactly those. A client's replay of a request that
// was stored (its answer lost on the way) is answered 200 and stores nothing: each request
// body's SHA-256 is kept for OTLP_DEDUPE_WINDOW_MINUTES.
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, type InputType, type ZlibOptions } from 'node:zlib';
import express, { type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { describeError, type Queryable } from '../db.js';
import { sameSecret } from '../auth.js';
import { truncate, type RoutePattern } from '../text.js';
import { decodeJsonRequest, decodeProtobufRequest, encodeProtobufResponse, encodeProtobufStatus, MalformedRequestError } from './decode.js';
import { createRateLimiter } from './rate-limit.js';
import { spansToRows } from './spans.js';
import { createSpanStore, SpanStoreUnavailableError } from './store.js';

const gunzip = promisify<InputType, ZlibOptions, Buffer>(gunzipCallback);

export const TRACES_PATH = '/v1/traces';
/** seconds an OTLP client is asked to wait before retrying while Postgres is unavailable */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

// google.rpc.Code values for the Status body of an error answer.
const Code = { INVALID_ARGUMENT: 3, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

export interface OtlpReceiverDeps {
  db: Queryable;
  options: Config['otlp'];
  routePatterns: readonly RoutePattern[];
  logger: Logger;
  /** milliseconds clock of the rate limiter, for tests */
  now?: () => number;
  /** where the receiver's own metrics go (cc_otlp_*); absent: not counted */
  registry?: Registry;
}

/** HTTP statuses the receiver answers, exposed at 0 from the start so increase() sees the first one. */
const KNOWN_STATUSES = ['200', '400', '401', '413', '415', '429', '503'];

function createReceiverMetrics(registry: Registry | undefined) {
  if (!registry) return { request: (_code: number) => undefined, spans: (_accepted: number, _rejected: number) => undefined, replay: () => undefined };
  const requests = new Counter({
    name: 'cc_otlp_requests_total',
    help: 'OTLP/HTTP export requests answered by the trace receiver, by HTTP status code.',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const spans = new Counter({
    name: 'cc_otlp_spans_total',
    help: 'Spans in OTLP requests that were decoded: accepted (stored or deliberately making no row) or rejected (partial success).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const replays = new Counter({
    name: 'cc_otlp_replayed_requests_total',
    help: 'OTLP requests whose body had already been stored within the dedupe window: answered 200, stored nothing.',
    registers: [registry],
  });
  for (const code of KNOWN_STATUSES) requests.inc({ code }, 0);
  for (const outcome of ['accepted', 'rejected']) spans.inc({ outcome }, 0);
  return {
    request: (code: number) => requests.inc({ code: String(code) }),
    replay: () => replays.inc(),
    spans(accepted: number, rejected: number) {
      spans.inc({ outcome: 'accepted' }, accepted);
      spans.inc({ outcome: 'rejected' }, rejected);
    },
  };
}

type Encoding = 'json' | 'protobuf';

/** An answer other than success, in the OTLP shape: an HTTP status and a google.rpc.Status. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The client went away mid-request; there is no one to answer. */
class ClientGone extends Error {}

export function createOtlpRouter({ db, options, routePatterns, logger, now, registry }: OtlpReceiverDeps): express.Router {
  const router = express.Router();
  const metrics = createReceiverMetrics(registry);
  const limiter = createRateLimiter({ perMinute: options.rateLimitPerMinute, now });
  const allowedOrigins = new Set(options.corsAllowedOrigins);
  const limits = { maxSpans: options.maxSpansPerRequest, maxAttributeLength: options.maxAttributeLength };
  const mapping = { routePatterns, maxAttributeLength: options.maxAttributeLength };
  const trustedMapping = { ...mapping, trusted: true };

  /**
   * Who sent the request: no Authorization header is a browser; the server token is a trusted
   * server; any other credential is refused (401, after the rate limit), so that an edge function
   * with a wrong or stale token is told, not silently demoted to a browser.
   */
  function sender(authorization: string | undefined): 'browser' | 'server' | Refusal {
    if (authorization === undefined) return 'browser';
    if (options.serverToken === undefined) {
      return new Refusal(401, Code.UNAUTHENTICATED, 'this receiver has no OTLP_SERVER_TOKEN: send no Authorization header, or configure the token');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null || !sameSecret(match[1]!, options.serverToken)) return new Refusal(401, Code.UNAUTHENTICATED, 'invalid server token');
    return 'server';
  }
  const dedupe = options.dedupeWindowMinutes > 0;
  const spanStore = createSpanStore({ db, logger, dedupeWindowMinutes: options.dedupeWindowMinutes });

  /** CORS headers for an allowed origin; whether the request's origin (if any) is allowed. */
  function cors(req: Request, res: Response): 'same-origin' | 'allowed' | 'denied' {
    if (allowedOrigins.size > 0) res.vary('Origin');
    const origin = req.get('origin');
    if (origin === undefined) return 'same-origin';
    if (!allowedOrigins.has(origin)) return 'denied';
    res.set('Access-Control-Allow-Origin', origin);
    // navigator.sendBeacon (the OTel exporter's transport at page hide) always sends in credentials
    // mode "include": without this its preflight fails and nothing is delivered. The receiver reads
    // no cookie; the allowlist, not this header, decides who may post.
    res.set('Access-Control-Allow-Credentials', 'true');
    res.set('Access-Control-Expose-Headers', 'Retry-After');
    return 'allowed';
  }

  router.options(TRACES_PATH, (req, res) => {
    const verdict = cors(req, res);
    if (verdict === 'denied') {
      sendStatus(res, 'json', new Refusal(403, Code.PERMISSION_DENIED, `origin ${echo(req.get('origin'))} is not allowed`));
      return;
    }
    if (verdict === 'allowed') {
      res.set('Access-Control-Allow-Methods', 'POST');
      res.set('Access-Control-Allow-Headers', 'Content-Type, Content-Encoding');
      res.set('Access-Control-Max-Age', '600');
    }
    res.set('Allow', 'POST, OPTIONS').status(204).end();
  });

  router.post(TRACES_PATH, async (req, res) => {
    cors(req, res);
    const encoding = encodingOf(req.get('content-type'));
    try {
      const from = sender(req.get('authorization'));
      // A trusted server (edge functions, from a few shared addresses) is not rate limited per address.
      const wait = from === 'server' ? 0 : limiter.take(clientKey(req.ip ?? req.socket.remoteAddress));
      if (wait > 0) throw new Refusal(429, Code.RESOURCE_EXHAUSTED, `rate limit of ${options.rateLimitPerMinute} requests per minute exceeded`, wait);
      if (from instanceof Refusal) throw from;
      const trusted = from === 'server';
      if (encoding === undefined) {
        throw new Refusal(415, Code.INVALID_ARGUMENT, `unsupported content type "${echo(req.get('content-type'))}": send application/json or application/x-protobuf`);
      }
      const contentEncoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
      if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
        throw new Refusal(415, Code.INVALID_ARGUMENT, `unsupported content encoding "${echo(contentEncoding)}": send gzip or no encoding`);
      }
      const declared = Number(req.get('content-length'));
      if (declared > options.maxBodyBytes) throw tooLarge(options.maxBodyBytes);

      let body = await readBody(req, options.maxBodyBytes);
      if (contentEncoding === 'gzip') body = await gunzipBounded(body, options.maxBodyBytes);

      const spans = encoding === 'json' ? decodeJsonRequest(body, limits) : decodeProtobufRequest(body, limits);
      const { rows, rejectedSpans, rejections } = spansToRows(spans, trusted ? trustedMapping : mapping);
      const digest = dedupe && rows.length > 0 ? createHash('sha256').update(body).digest() : undefined;
      if ((await spanStore.store(rows, digest)) === 'stored') {
        metrics.spans(spans.length - rejectedSpans, rejectedSpans);
      } else {
        metrics.replay();
        logger.debug({ spans: spans.length }, 'OTLP request already stored: a replay, answered 200');
      }
      metrics.request(200);

      const partialSuccess = rejectedSpans > 0 ? { rejectedSpans, errorMessage: `rejected ${rejections.join('; ')}` } : undefined;
      if (encoding === 'protobuf') {
        res.status(200).type('application/x-protobuf').send(Buffer.from(encodeProtobufResponse(partialSuccess)));
      } else {
        res.status(200).json(partialSuccess ? { partialSuccess } : {});
      }
    } catch (err) {
      if (err instanceof ClientGone) return;
      const refusal = refusalOf(err);
      if (refusal.status === 500) logger.error({ err: describeError(err), path: req.path }, 'OTLP request failed');
      else logger.debug({ status: refusal.status, reason: refusal.message }, 'OTLP request refused');
      if (refusal.status === 413 || refusal.status === 401) res.set('Connection', 'close'); // the rest of the body is not read
      if (refusal.status === 401) res.set('WWW-Authenticate', 'Bearer realm="otlp"');
      metrics.request(refusal.status);
      sendStatus(res, encoding ?? 'json', refusal);
    }
  });

  router.all(TRACES_PATH, (req, res) => {
    res.set('Allow', 'POST, OPTIONS');
    sendStatus(res, 'json', new Refusal(405, Code.UNIMPLEMENTED, `${req.method} is not supported on ${TRACES_PATH}: POST spans`));
  });

  return router;
}

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof MalformedRequestError) return new Refusal(400, Code.INVALID_ARGUMENT, err.message);
  if (err instanceof SpanStoreUnavailableError) return new Refusal(503, Code.UNAVAILABLE, 'the span store is unavailable; retry later', UNAVAILABLE_RETRY_AFTER_SECONDS);
  return new Refusal(500, Code.INTERNAL, 'internal error');
}

function sendStatus(res: Response, encoding: Encoding, refusal: Refusal): void {
  if (res.headersSent) return;
  if (refusal.retryAfterSeconds !== undefined) res.set('Retry-After', String(refusal.retryAfterSeconds));
  res.status(refusal.status);
  if (encoding === 'protobuf') {
    res.type('application/x-protobuf').send(Buffer.from(encodeProtobufStatus(refusal.code, refusal.message)));
  } else {
    res.json({ code: refusal.code, message: refusal.message });
  }
}

/** A request header quoted back in an error message, kept short. */
function echo(value: string | undefined): string {
  return truncate(value ?? '', 100);
}

function encodingOf(contentType: string | undefined): Encoding | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf') return 'protobuf';
  return undefined;
}

function tooLarge(limit: number): Refusal {
  return new Refusal(413, Code.INVALID_ARGUMENT, `request body larger than ${limit} bytes`);
}

/** The body, or a 413 as soon as it passes the limit. */
function readBody(req: Request, limit: number): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      if (err) {
        req.resume(); // discard whatever else arrives until the connection closes
        reject(err);
      } else {
        resolve(body ?? Buffer.alloc(0));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return settle(tooLarge(limit));
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined, Buffer.concat(chunks, size));
    const onGone = () => settle(new ClientGone('client closed the connection'));
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

/** Gunzip, stopping at `limit` decompressed bytes (a gzip bomb costs no more than that). */
async function gunzipBounded(body: Buffer, limit: number): Promise<Buffer> {
  try {
    return await gunzip(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new Refusal(400, Code.INVALID_ARGUMENT, `invalid gzip body: ${(err as Error).message}`);
  }
}

/**
 * The rate limit's client: the connecting address, an IPv4-mapped IPv6 address as IPv4, and
 * an IPv6 address by its /64 (one host usually holds a whole /64).
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1] ?? address;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
