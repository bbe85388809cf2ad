// Alertmanager's webhooks, under /hooks: alert history into Postgres, and the SMS bridge to
// Twilio. Both need Alertmanager's bearer token (http_config.authorization.credentials_file);
// without HOOKS_AUTH_TOKEN they answer 404 and say how to turn them on. A 5xx means "send it
// again": Alertmanager retries exactly those.
import express, { type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { requireAuth } from '../auth.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { describeError, type Queryable } from '../db.js';
import { writeAlertHistory } from './alert-history.js';
import { createHeartbeatRelay } from './heartbeat.js';
import { parseWebhookPayload, PayloadError, type WebhookPayload } from './payload.js';
import { createSmsGate } from './sms-gate.js';
import { createSmsSender, type SmsSenderOptions } from './sms.js';

export const ALERT_HISTORY_PATH = '/hooks/alert-history';
export const SMS_PATH = '/hooks/sms';
export const HEARTBEAT_PATH = '/hooks/heartbeat';

export interface HooksDeps {
  db: Queryable;
  options: Config['hooks'];
  registry: Registry;
  logger: Logger;
  /** retry and timing knobs of the SMS sender, for tests */
  sms?: Omit<SmsSenderOptions, 'config'>;
  /** the dead man's switch's fetch, for tests */
  heartbeatFetch?: typeof fetch;
}

export function createHooksRouter({ db, options, registry, logger, sms: smsOptions, heartbeatFetch }: HooksDeps): express.Router {
  const registers = [registry];
  const historyWrites = new Counter({
    name: 'cc_alert_history_writes_total',
    help: 'Alerts written to alert_history by the alert-history webhook, by alert status.',
    labelNames: ['status'],
    registers,
  });
  const historyFailures = new Counter({
    name: 'cc_alert_history_write_failures_total',
    help: 'Alert-history webhook deliveries that could not be written (answered 503, Alertmanager retries).',
    registers,
  });
  const smsSent = new Counter({ name: 'cc_sms_sent_total', help: 'SMS accepted by Twilio.', registers });
  const smsSuppressed = new Counter({
    name: 'cc_sms_suppressed_total',
    help: 'SMS notifications not texted, by reason: cooldown (the group paged within SMS_COOLDOWN), acknowledged (a repeat of an acknowledged occurrence), not_paged (the RESOLVED of an occurrence that never paged).',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['cooldown', 'acknowledged', 'not_paged']) smsSuppressed.inc({ reason }, 0);
  const smsFailures = new Counter({
    name: 'cc_sms_failures_total',
    help: 'SMS that Twilio did not accept after every retry (the delivery is answered 5xx).',
    registers,
  });
  const heartbeats = new Counter({
    name: 'cc_heartbeats_total',
    help: "Watchdog heartbeats relayed to the dead man's switch, by outcome (unconfigured: HEARTBEAT_URL not set).",
    labelNames: ['outcome'],
    registers,
  });
  for (const status of ['firing', 'resolved']) historyWrites.inc({ status }, 0);
  for (const outcome of ['sent', 'failed', 'unconfigured']) heartbeats.inc({ outcome }, 0);

  const router = express.Router();
  const disabled = (what: string, hint: string) => (_req: Request, res: Response) => {
    res.status(404).json({ error: `${what} is off: ${hint}` });
  };
  if (options.token === undefined) {
    router.all(['/hooks', '/hooks/*path'], disabled('the Alertmanager webhooks are', 'set HOOKS_AUTH_TOKEN (or HOOKS_AUTH_TOKEN_FILE) to turn them on'));
    return router;
  }

  const json = express.json({ limit: '2mb', type: () => true });
  const auth = requireAuth({ kind: 'bearer', token: options.token });
  const payloadOf = (req: Request): WebhookPayload => parseWebhookPayload(req.body);

  router.post(ALERT_HISTORY_PATH, auth, json, async (req, res) => {
    const payload = payloadOf(req);
    try {
      const written = await writeAlertHistory(db, payload);
      historyWrites.inc({ status: 'firing' }, written.firing);
      historyWrites.inc({ status: 'resolved' }, written.resolved);
      res.json({ status: 'ok', written: written.firing + written.resolved });
    } catch (err) {
      historyFailures.inc();
      logger.error({ err: describeError(err), groupKey: payload.groupKey }, 'alert history not written');
      res.status(503).json({ error: `alert history not written: ${describeError(err)}` });
    }
  });

  // The heartbeat is answered 200 even unconfigured (a warning is logged once): a 404 would count
  // as Alertmanager notification failures every minute. A failed ping is a 502: Alertmanager retries.
  const heartbeat = createHeartbeatRelay({ url: options.heartbeatUrl, logger, ...(heartbeatFetch ? { fetch: heartbeatFetch } : {}) });
  router.post(HEARTBEAT_PATH, auth, json, async (req, res) => {
    payloadOf(req);
    const { outcome, error } = await heartbeat.ping();
    heartbeats.inc({ outcome });
    if (outcome === 'failed') {
      logger.error({ err: error }, 'heartbeat not relayed');
      res.status(502).json({ error });
      return;
    }
    res.json({ status: 'ok', relayed: outcome === 'sent' });
  });

  if (options.sms === undefined) {
    router.post(SMS_PATH, disabled('the SMS bridge is', 'set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and ALERT_SMS_NUMBERS'));
  } else {
    const sender = createSmsSender({ gate: createSmsGate(db, options.sms.cooldownMs), ...smsOptions, config: options.sms });
    const recipients = options.sms.to.length;
    router.post(SMS_PATH, auth, json, async (req, res) => {
      const payload = payloadOf(req);
      const { sent, skipped, failures, suppressed, gateError } = await sender.send(payload);
      if (gateError !== undefined) logger.warn({ err: describeError(gateError), groupKey: payload.groupKey }, 'SMS cooldown not checked (texting anyway)');
      if (suppressed !== undefined) {
        smsSuppressed.inc({ reason: suppressed });
        logger.info({ groupKey: payload.groupKey, status: payload.status, reason: suppressed }, 'SMS held back');
        res.json({ status: 'ok', sent: 0, skipped: 0, suppressed });
        return;
      }
      smsSent.inc(sent);
      if (failures.length === 0) {
        res.json({ status: 'ok', sent, skipped });
        return;
      }
      smsFailures.inc(failures.length);
      const error = `${failures.length} of ${recipients} SMS not sent: ${failures.map((f) => f.message).join('; ')}`;
      logger.error({ err: error, groupKey: payload.groupKey }, 'SMS not sent');
      res.status(502).json({ error, sent, skipped });
    });
  }

  router.all(['/hooks', '/hooks/*path'], (req, res) => {
    if (req.method !== 'POST') res.set('Allow', 'POST');
    res.status(req.method === 'POST' ? 404 : 405).json({ error: `${req.method} ${req.path}: the webhooks are POST ${ALERT_HISTORY_PATH}, POST ${SMS_PATH} and POST ${HEARTBEAT_PATH}` });
  });

  router.use(['/hooks', '/hooks/*path'], ((err, req, res, next) => {
    if (err instanceof PayloadError) return res.status(400).json({ error: `not an Alertmanager webhook payload: ${err.message}` });
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return res.status(400).json({ error: `the body is not JSON: ${e.message ?? ''}` });
    // body-parser passes zlib's own error on (a 400 without a type): say what it was decoding.
    const encoding = req.headers['content-encoding'];
    if (e.status === 400 && e.type === undefined && encoding !== undefined) {
      return res.status(400).json({ error: `the body is not valid Content-Encoding ${encoding} data: ${e.message ?? ''}` });
    }
    next(err);
  }) as express.ErrorRequestHandler);

  return router;
}
