// HTTP for the deploy commands: every call has a timeout, and every failure becomes one readable
// sentence (what was called, what happened) that never contains a token or a URL's credentials.

/** Thrown for any call that did not get the answer it needed: unreachable, timed out or a non-2xx. */
export class HttpError extends Error {
  constructor(
    message: string,
    /** the HTTP status, or undefined when no answer came back */
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  /** names what is being done, for messages: "Grafana: create annotation" */
  what: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
}

/** The URL as it may be printed: no user, password or query string (tokens travel there too). */
export function printableUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Why a fetch threw, in words: a timeout, a refused connection, a DNS failure. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ECONNRESET') return 'connection reset';
  return code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Sends a JSON request and returns the parsed JSON answer (or null for an empty body). */
export async function requestJson<T = unknown>(req: JsonRequest): Promise<T> {
  const where = `${req.method} ${printableUrl(req.url)}`;
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: { accept: 'application/json', ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
      body: req.body !== undefined ? JSON.stringify(req.body) : undefined,
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new HttpError(`${req.what} failed: ${where}: ${describeFetchError(err, req.timeoutMs)}`, undefined);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new HttpError(`${req.what} failed: ${where}: reading the answer: ${describeFetchError(err, req.timeoutMs)}`, res.status);
  }
  if (!res.ok) {
    throw new HttpError(`${req.what} failed: ${where} answered ${res.status}${errorDetail(text)}`, res.status);
  }
  if (text.trim() === '') return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new HttpError(`${req.what} failed: ${where} answered ${res.status} with a body that is not JSON`, res.status);
  }
}

/** The message of an error body (Grafana's {message}, Vercel's {error: {message}}), cut short. */
function errorDetail(text: string): string {
  let detail = text;
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: { message?: unknown; code?: unknown } | string };
    if (typeof body.error === 'object' && body.error && typeof body.error.message === 'string') detail = body.error.message;
    else if (typeof body.error === 'string') detail = body.error;
    else if (typeof body.message === 'string') detail = body.message;
  } catch {
    // not JSON: the text itself
  }
  detail = detail.replace(/\s+/g, ' ').trim().slice(0, 300);
  return detail ? `: ${detail}` : '';
}
