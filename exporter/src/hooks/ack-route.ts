// /alerts/ack: acknowledge an alert occurrence over HTTP. GET shows a small form (the System
// Health dashboard's "Acknowledge" link opens it); POST records the acknowledgement (form or
// JSON). Authenticated with ACK_AUTH_TOKEN: `Authorization: Bearer <token>` (scripts, with `by`
// in the body), or HTTP Basic with the token as password and your name as user (a browser asks
// for both; the name is who acknowledged). Without ACK_AUTH_TOKEN the routes answer 404 and say so.
// 401 unauthenticated, 403 a post from another origin (a forged form), 400 bad input, 404 no such
// occurrence, 413 an oversized note or body;
// acknowledging again answers 200 with the first acknowledgement kept.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { sameSecret as same } from '../auth.js';
import type { Logger } from '../log.js';
import { describeError, type Queryable } from '../db.js';
import { acknowledge, AckError, MAX_ACK_NOTE, parseAck } from './acknowledge.js';

export const ACK_PATH = '/alerts/ack';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createAckRouter({ db, token, registry, logger }: { db: Queryable; token: string | undefined; registry: Registry; logger: Logger }): express.Router {
  const router = express.Router();
  if (token === undefined) {
    router.all(ACK_PATH, (_req, res) => {
      res.status(404).json({ error: 'acknowledging is off: set ACK_AUTH_TOKEN (or ACK_AUTH_TOKEN_FILE) to turn it on' });
    });
    return router;
  }
  const acks = new Counter({ name: 'cc_alert_acks_total', help: 'Acknowledgements recorded through /alerts/ack.', registers: [registry] });

  // Who is asking: undefined when not authenticated; the basic-auth user name, or '' for a bearer.
  const authenticated = (req: Request): string | undefined => {
    const header = req.get('authorization') ?? '';
    if (header.startsWith('Bearer ')) return same(header.slice(7), token) ? '' : undefined;
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return undefined;
      return same(decoded.slice(colon + 1), token) ? decoded.slice(0, colon) : undefined;
    }
    return undefined;
  };
  const auth: RequestHandler = (req, res, next) => {
    const who = authenticated(req);
    if (who === undefined) {
      res.set('WWW-Authenticate', 'Basic realm="Connect alerts: your name and the acknowledgement token"').status(401).json({ error: 'unauthorized: ACK_AUTH_TOKEN as a bearer token, or as the basic-auth password with your name as the user' });
      return;
    }
    res.locals.who = who;
    next();
  };
  const wantsHtml = (req: Request) => (req.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded');

  router.get(ACK_PATH, auth, (req, res) => {
    const q = req.query as Record<string, unknown>;
    const field = (name: string) => (typeof q[name] === 'string' ? escape(q[name] as string) : '');
    res.type('text/html').send(`<!doctype html><meta charset="utf-8"><title>Acknowledge an alert</title>
<h1>Acknowledge an alert</h1>
<p>Acknowledging holds back the repeated SMS pages of this occurrence for the cooldown; the next occurrence pages again. Who and when are recorded in the alert history.</p>
<form method="post" action="${ACK_PATH}">
<input type="hidden" name="id" value="${field('id')}"><input type="hidden" name="fingerprint" value="${field('fingerprint')}">
<input type="hidden" name="starts_at" value="${field('starts_at')}"><input type="hidden" name="alertname" value="${field('alertname')}">
<p>${field('alertname') || field('fingerprint') || `alert_history row ${field('id')}`}</p>
<p><label>Who <input name="by" value="${escape(String(res.locals.who ?? ''))}" maxlength="100" required></label></p>
<p><label>Note <textarea name="note" maxlength="${MAX_ACK_NOTE}" rows="3" cols="60"></textarea></label></p>
<p><button type="submit">Acknowledge</button></p></form>`);
  });

  // A browser keeps basic-auth credentials for the origin: a page elsewhere must not post the form
  // with them (cross-site request forgery). Browsers name the page's origin on every cross-origin POST.
  const sameOrigin: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined && origin !== 'null') {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (host !== req.get('host')) {
        res.status(403).json({ error: `acknowledging from another origin (${origin.slice(0, 100)}) is refused` });
        return;
      }
    }
    next();
  };

  router.post(
    ACK_PATH,
    sameOrigin,
    auth,
    express.json({ limit: '16kb' }),
    express.urlencoded({ extended: false, limit: '16kb' }),
    async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      // An empty form field is "not given": the hidden fields of the form carry only one target.
      const input = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== ''));
      let rows;
      try {
        rows = await acknowledge(db, parseAck(input, (res.locals.who as string) || undefined));
      } catch (err) {
        if (err instanceof AckError) {
          res.status(err.status).json({ error: err.message });
          return;
        }
        logger.error({ err: describeError(err) }, 'acknowledgement not recorded');
        res.status(503).json({ error: `acknowledgement not recorded: ${describeError(err)}` });
        return;
      }
      const fresh = rows.filter((r) => !r.already);
      acks.inc(fresh.length);
      for (const r of fresh) logger.info({ alertname: r.alertname, fingerprint: r.fingerprint, by: r.acknowledged_by }, 'alert acknowledged');
      if (wantsHtml(req)) {
        res.type('text/html').send(`<!doctype html><meta charset="utf-8"><title>Acknowledged</title><h1>Acknowledged</h1><ul>${rows
          .map((r) => `<li>${escape(r.alertname)} since ${r.starts_at.toISOString()}: ${escape(r.acknowledged_by)} at ${r.acknowledged_at.toISOString()}${r.already ? ' (already)' : ''}</li>`)
          .join('')}</ul>`);
        return;
      }
      res.json({ acknowledged: rows });
    },
  );

  router.all(ACK_PATH, (req, res) => {
    res.set('Allow', 'GET, POST').status(405).json({ error: `${req.method} ${ACK_PATH}: GET (the form) or POST (acknowledge)` });
  });
  router.use(ACK_PATH, ((err, _req, res, next) => {
    const e = err as { type?: string; message?: string };
    if (e.type === 'entity.too.large') return res.status(413).json({ error: 'the body is over 16 kB' });
    if (e.type === 'entity.parse.failed') return res.status(400).json({ error: `the body is not JSON: ${e.message ?? ''}` });
    next(err);
  }) as express.ErrorRequestHandler);
  return router;
}
