// Alertmanager's webhook payload (version 4), validated: a bad payload is a 400 that says what
// was wrong, never a half-written alert. Its strings are made storable (NUL dropped, lone
// surrogates replaced): Postgres refuses both, and Alertmanager would retry such a payload for ever.
import { storable } from '../text.js';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: Date;
  /** undefined while firing (Alertmanager sends 0001-01-01T00:00:00Z) */
  endsAt: Date | undefined;
  generatorURL: string | undefined;
  fingerprint: string;
}

export interface WebhookPayload {
  receiver: string;
  status: 'firing' | 'resolved';
  groupKey: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  externalURL: string | undefined;
  alerts: WebhookAlert[];
}

export class PayloadError extends Error {}

const MAX_ALERTS = 1000;

export function parseWebhookPayload(body: unknown): WebhookPayload {
  if (!isObject(body)) throw new PayloadError('the body must be a JSON object (Alertmanager webhook payload)');
  if (body.version !== undefined && body.version !== '4') throw new PayloadError(`unsupported payload version "${String(body.version)}": expected "4"`);
  if (!Array.isArray(body.alerts)) throw new PayloadError('alerts must be an array');
  if (body.alerts.length > MAX_ALERTS) throw new PayloadError(`more than ${MAX_ALERTS} alerts in one payload`);
  const alerts = body.alerts.map((alert, i) => parseAlert(alert, `alerts[${i}]`));
  return {
    receiver: typeof body.receiver === 'string' ? storable(body.receiver) : '',
    status: status(body.status, 'status'),
    groupKey: typeof body.groupKey === 'string' ? storable(body.groupKey) : '',
    groupLabels: stringMap(body.groupLabels ?? {}, 'groupLabels'),
    commonLabels: stringMap(body.commonLabels ?? {}, 'commonLabels'),
    externalURL: typeof body.externalURL === 'string' ? storable(body.externalURL) : undefined,
    alerts,
  };
}

function parseAlert(alert: unknown, at: string): WebhookAlert {
  if (!isObject(alert)) throw new PayloadError(`${at} must be an object`);
  const labels = stringMap(alert.labels, `${at}.labels`);
  if (!labels.alertname) throw new PayloadError(`${at}.labels.alertname is missing`);
  const fingerprint = typeof alert.fingerprint === 'string' ? storable(alert.fingerprint) : '';
  if (fingerprint === '') throw new PayloadError(`${at}.fingerprint is missing`);
  const startsAt = time(alert.startsAt, `${at}.startsAt`);
  if (startsAt === undefined) throw new PayloadError(`${at}.startsAt is missing`);
  return {
    status: status(alert.status, `${at}.status`),
    labels,
    annotations: stringMap(alert.annotations ?? {}, `${at}.annotations`),
    startsAt,
    endsAt: time(alert.endsAt, `${at}.endsAt`),
    generatorURL: typeof alert.generatorURL === 'string' && alert.generatorURL !== '' ? storable(alert.generatorURL) : undefined,
    fingerprint,
  };
}

function status(value: unknown, at: string): 'firing' | 'resolved' {
  if (value === 'firing' || value === 'resolved') return value;
  throw new PayloadError(`${at} must be "firing" or "resolved", got ${JSON.stringify(value) ?? 'nothing'}`);
}

/** An RFC 3339 time; Go's zero time (year 1) means "not set". */
function time(value: unknown, at: string): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'string' ? new Date(value) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime())) throw new PayloadError(`${at} must be an RFC 3339 time, got ${JSON.stringify(value)}`);
  return parsed.getUTCFullYear() <= 1 ? undefined : parsed;
}

function stringMap(value: unknown, at: string): Record<string, string> {
  if (!isObject(value)) throw new PayloadError(`${at} must be an object of strings`);
  const out: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new PayloadError(`${at}.${key} must be a string`);
    out.push([storable(key), storable(v)]);
  }
  return Object.fromEntries(out);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
