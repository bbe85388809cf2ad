// The exporter's HTTP app, built from its dependencies: no listen, no process.env.
import express, { type ErrorRequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { requireAuth } from './auth.js';
import type { Config } from './config.js';
import { contentTypes, negotiateFormat } from './exposition.js';
import { createAckRouter } from './hooks/ack-route.js';
import { createHooksRouter, type HooksDeps } from './hooks/index.js';
import { createOtlpRouter } from './ingest/otlp.js';
import type { RoutePattern } from './text.js';
import type { Logger } from './log.js';
import { describeError, type Queryable } from './db.js';
import type { Scraper } from './scrape.js';

export interface AppDeps {
  scraper: Scraper;
  db: Queryable;
  auth: Config['auth'];
  /** the OTLP/HTTP trace receiver's limits, and the route patterns its rows use */
  otlp: { options: Config['otlp']; routePatterns: readonly RoutePattern[]; registry?: Registry };
  logger: Logger;
  /** Alertmanager's webhooks (/hooks/*) and the registry their metrics go on; absent: not mounted */
  hooks?: Pick<HooksDeps, 'options' | 'registry' | 'sms'>;
}

export interface Apps {
  /** /metrics, health, the webhooks, acknowledging, and /v1/traces unless it has its own port */
  app: express.Express;
  /** with OTLP_PORT: /v1/traces alone, for the public listener */
  publicApp: express.Express | undefined;
}

function baseApp(otlp: AppDeps['otlp']): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a trusted proxy (TRUST_PROXY) req.ip is the client X-Forwarded-For names, so the OTLP
  // rate limit keys on each browser, not on the proxy; from any other peer the header is ignored.
  app.set('trust proxy', otlp.options.trustProxy);
  return app;
}

const notFound: express.RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
};

export function createApp({ scraper, db, auth, otlp, logger, hooks }: AppDeps): Apps {
  const app = baseApp(otlp);
  const otlpRouter = createOtlpRouter({ db, options: otlp.options, routePatterns: otlp.routePatterns, registry: otlp.registry, logger });

  app.get('/', (_req, res) => {
    res.type('text/html').send(
      '<!doctype html><title>Connect Observability exporter</title><h1>Connect Observability exporter</h1>' +
        '<ul><li><a href="/metrics">/metrics</a> Prometheus metrics</li>' +
        '<li><a href="/healthz">/healthz</a> process alive</li>' +
        '<li><a href="/readyz">/readyz</a> Postgres reachable</li>' +
        '<li>POST /v1/traces OTLP/HTTP trace receiver (JSON or protobuf)</li>' +
        '<li>POST /hooks/alert-history, /hooks/sms, /hooks/heartbeat Alertmanager webhooks</li>' +
        '<li>GET, POST /alerts/ack acknowledge an alert occurrence</li></ul>',
    );
  });

  // OpenMetrics to a scraper that prefers it (Prometheus does), the text format to any other.
  app.get('/metrics', requireAuth(auth), async (req, res) => {
    const format = negotiateFormat(req.get('accept'));
    const body = await scraper.scrape(format);
    res.set({ 'Content-Type': contentTypes[format], Vary: 'Accept' }).send(body);
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      const notes = scraper.notes();
      res.json(notes.length > 0 ? { status: 'ready', notes } : { status: 'ready' });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', error: `database unreachable: ${describeError(err)}` });
    }
  });

  // With OTLP_PORT the browsers' endpoint lives alone on the public listener (the convention of
  // postgres_exporter and the OpenTelemetry Collector): nothing else is reachable there.
  let publicApp: express.Express | undefined;
  if (otlp.options.port !== undefined) {
    publicApp = baseApp(otlp);
    publicApp.use(otlpRouter);
    publicApp.use(notFound);
  } else {
    app.use(otlpRouter);
  }
  if (hooks) {
    app.use(createHooksRouter({ ...hooks, db, logger }));
    app.use(createAckRouter({ db, token: hooks.options.ackToken, registry: hooks.registry, logger }));
  }

  app.use(notFound);

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) logger.error({ err: describeError(err), path: req.path }, 'request failed');
    if (res.headersSent) return;
    res.status(status).json({ error: status >= 500 ? 'internal error' : String(err.message ?? err) });
  };
  app.use(onError);
  publicApp?.use(onError);

  return { app, publicApp };
}
