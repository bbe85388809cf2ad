// Optional protection for /metrics (it exposes revenue): a bearer token or basic auth,
// compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Config } from './config.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
/** Whether two secrets are equal, in constant time whatever their lengths (SHA-256 digests compared). */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));
const same = sameSecret;

export function requireAuth(auth: Config['auth']): RequestHandler {
  if (auth.kind === 'none') return (_req, _res, next) => next();
  const expected = auth.kind === 'bearer' ? `Bearer ${auth.token}` : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const challenge = auth.kind === 'bearer' ? 'Bearer realm="cc-exporter"' : 'Basic realm="cc-exporter"';
  return (req, res, next) => {
    const given = req.get('authorization') ?? '';
    if (same(given, expected)) return next();
    res.set('WWW-Authenticate', challenge).status(401).type('text/plain').send('unauthorized\n');
  };
}
