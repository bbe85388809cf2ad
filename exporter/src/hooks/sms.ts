// /hooks/sms: one SMS per alert group and recipient through Twilio's REST API, short enough for
// one segment (160 GSM-7 characters), retried with back-off. A delivery Alertmanager retries
// (after a failure for another recipient) does not text the same person twice.
import type { SmsConfig } from '../config.js';
import type { WebhookPayload } from './payload.js';
import type { GateDecision, SmsGate } from './sms-gate.js';

export const SMS_MAX_LENGTH = 160;

export interface SmsSenderOptions {
  config: SmsConfig;
  /** attempts per message, the first included */
  attempts?: number;
  /** first back-off in ms; doubles per attempt */
  backoffMs?: number;
  /** per-request timeout in ms */
  timeoutMs?: number;
  /** how long a message sent for a notification is remembered, so a retried delivery skips it */
  dedupeMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** the cooldown and acknowledgement gate (sms-gate.ts); without it every notification pages */
  gate?: SmsGate;
}

export class TwilioError extends Error {
  constructor(
    message: string,
    /** whether trying again later may succeed */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface SmsResult {
  /** SMS Twilio accepted now */
  sent: number;
  /** recipients already texted for this very notification (a retried delivery) */
  skipped: number;
  /** one per recipient Twilio did not accept after every attempt */
  failures: TwilioError[];
  /** why nobody was texted: the group paged within the cooldown, the occurrence is acknowledged, or its FIRING never paged */
  suppressed?: Exclude<GateDecision, 'page'>;
  /** the gate could not ask Postgres and let the page through */
  gateError?: unknown;
}

export interface SmsSender {
  /** Texts every recipient once per notification; never throws. */
  send(payload: WebhookPayload): Promise<SmsResult>;
}

export function createSmsSender({
  config,
  attempts = 3,
  backoffMs = 500,
  timeoutMs = 5000,
  dedupeMs = 120_000,
  fetch: fetchImpl = fetch,
  now = Date.now,
  gate,
}: SmsSenderOptions): SmsSender {
  const url = `${config.apiBaseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')}`;
  const sentAt = new Map<string, number>();

  async function post(to: string, body: string): Promise<void> {
    let lastError: TwilioError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 2)));
      try {
        const res = await fetchImpl(url, {
          method: 'POST',
          headers: { Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ To: to, From: config.from, Body: body }).toString(),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        if (res.ok) return;
        const reason = `Twilio answered ${res.status}: ${twilioMessage(text)}`;
        // 429 and 5xx pass; any other 4xx (a bad number, bad credentials) will not.
        lastError = new TwilioError(reason, res.status === 429 || res.status >= 500);
      } catch (err) {
        lastError = new TwilioError(`Twilio unreachable: ${(err as Error).message}`, true);
      }
      if (!lastError.retryable) break;
    }
    throw lastError ?? new TwilioError('no attempt made', true);
  }

  return {
    async send(payload) {
      const body = smsText(payload);
      const notification = `${payload.groupKey}\u0000${payload.status}\u0000${payload.alerts.map((a) => `${a.fingerprint}@${a.startsAt.toISOString()}@${a.status}`).sort().join(',')}`;
      const t = now();
      for (const [key, at] of sentAt) if (t - at > dedupeMs) sentAt.delete(key);
      // A RESOLVED ends an occurrence and a FIRING starts the next: a change of the group's
      // status makes the other status's texts new again, however soon it comes. Only a
      // redelivery of the same notification is skipped.
      const group = `${payload.groupKey}\u0000`;
      for (const key of sentAt.keys()) if (key.startsWith(group) && !key.startsWith(`${group}${payload.status}\u0000`)) sentAt.delete(key);
      const result: SmsResult = { sent: 0, skipped: 0, failures: [] };
      if (gate) {
        const { decision, error } = await gate.decide(payload, notification);
        if (error !== undefined) result.gateError = error;
        if (decision !== 'page') return { ...result, suppressed: decision };
      }
      for (const to of config.to) {
        const key = `${notification}\u0000${to}`;
        if (sentAt.has(key)) {
          result.skipped++;
          continue;
        }
        try {
          await post(to, body);
          sentAt.set(key, now());
          result.sent++;
        } catch (err) {
          result.failures.push(err as TwilioError);
        }
      }
      return result;
    },
  };
}

/**
 * The text: status, alert, severity, how many, the summary, since when (UTC) — cut to one SMS.
 * e.g. "FIRING PaymentFailures critical: Payments are failing. 3 in the last 5m. Since 02:14Z"
 */
export function smsText(payload: WebhookPayload): string {
  const alertname = payload.commonLabels.alertname ?? payload.groupLabels.alertname ?? payload.alerts[0]?.labels.alertname ?? 'alert';
  const severity = payload.commonLabels.severity ?? '';
  const firing = payload.alerts.filter((a) => a.status === 'firing');
  const shown = payload.status === 'firing' ? firing : payload.alerts;
  const first = shown[0];
  const count = shown.length > 1 ? ` (${shown.length})` : '';
  const head = `${payload.status === 'firing' ? 'FIRING' : 'RESOLVED'} ${alertname}${severity ? ` ${severity}` : ''}${count}:`;
  const detail = payload.status === 'firing'
    ? first?.annotations.description ?? first?.annotations.summary ?? ''
    : first?.annotations.summary ? `was: ${first.annotations.summary}` : '';
  const earliest = shown.reduce<Date | undefined>((min, a) => (min === undefined || a.startsAt < min ? a.startsAt : min), undefined);
  const since = earliest ? ` Since ${earliest.toISOString().slice(11, 16)}Z` : '';
  return oneSegment(`${head} ${detail}`.trim(), since);
}

/** GSM-7-safe ASCII, at most SMS_MAX_LENGTH characters, the tail kept whole. */
function oneSegment(text: string, tail: string): string {
  const ascii = (s: string) => s.normalize('NFKD').replace(/[^\x20-\x7e]/g, '').replace(/[\\[\]{}^~|`]/g, ' ').replace(/\s+/g, ' ');
  const cleanTail = ascii(tail);
  const room = SMS_MAX_LENGTH - cleanTail.length;
  const clean = ascii(text);
  const head = clean.length <= room ? clean : `${clean.slice(0, room - 3).trimEnd()}...`;
  return `${head}${cleanTail}`;
}

function twilioMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === 'string') return `${parsed.message}${parsed.code !== undefined ? ` (code ${String(parsed.code)})` : ''}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || '(empty body)';
}
