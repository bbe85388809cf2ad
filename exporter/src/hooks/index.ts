// Alertmanager's webhooks, under /hooks: alert history into Postgres, and the SMS bridge to
// Twilio. Both need Alertmanager's bearer token (http_config.authorization.credentials_file);
// without HOOKS_AUTH_TOKEN they answer 404 and say how to turn them on. A 5xx means "send it
// again": Alertmanager retries exactly those.
import express, { type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { requireAuth } from '../auth.js';
import type { Queryable } from '../collectors/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { describeError } from '../scrape.js';
import { writeAlertHistory } from './alert-history.js';
import { parseWebhookPayload, PayloadError, type WebhookPayload } from './payload.js';
import { createSmsSender, type SmsSenderOptions } from './sms.js';

export const ALERT_HISTORY_PATH = '/hooks/alert-history';
export const SMS_PATH = '/hooks/sms';

export interface HooksDeps {
  db: Queryable;
  options: Config['hooks'];
  registry: Registry;
  logger: Logger;
  /** retry and timing knobs of the SMS sender, for tests */
  sms?: Omit<SmsSenderOptions, 'config'>;
}

export function createHooksRouter({ db, options, registry, logger, sms: smsOptions }: HooksDeps): express.Router {
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
  const smsFailures = new Counter({
    name: 'cc_sms_failures_total',
    help: 'SMS that Twilio did not accept after every retry (the delivery is answered 5xx).',
    registers,
  });
  for (const status of ['firing', 'resolved']) historyWrites.inc({ status }, 0);

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

  if (options.sms === undefined) {
    router.post(SMS_PATH, disabled('the SMS bridge is', 'set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and ALERT_SMS_NUMBERS'));
  } else {
    const sender = createSmsSender({ ...smsOptions, config: options.sms });
    const recipients = options.sms.to.length;
    router.post(SMS_PATH, auth, json, async (req, res) => {
      const payload = payloadOf(req);
      const { sent, skipped, failures } = await sender.send(payload);
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
    res.status(req.method === 'POST' ? 404 : 405).json({ error: `${req.method} ${req.path}: the webhooks are POST ${ALERT_HISTORY_PATH} and POST ${SMS_PATH}` });
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
