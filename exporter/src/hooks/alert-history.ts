// /hooks/alert-history: every notification Alertmanager sends becomes rows of alert_history,
// one per occurrence (fingerprint, starts_at). Retries and repeat notifications update the
// same row (notifications counts the deliveries); a resolved notification closes it, and a
// late firing delivery never reopens a resolved row. One statement, so a payload is written
// whole or not at all; rows in key order, so concurrent deliveries of the same alerts in other
// orders lock them in the same order instead of deadlocking.
import type { Queryable } from '../db.js';
import type { WebhookPayload } from './payload.js';

export const UPSERT_ALERT_HISTORY = `
INSERT INTO public.alert_history AS h
       (fingerprint, alertname, severity, status, starts_at, ends_at, labels, annotations, generator_url, receiver)
SELECT a.fingerprint, a.alertname, a.severity, a.status, a.starts_at, a.ends_at, a.labels, a.annotations, a.generator_url, a.receiver
  FROM jsonb_to_recordset($1::jsonb) AS a(
       fingerprint text, alertname text, severity text, status text, starts_at timestamptz, ends_at timestamptz,
       labels jsonb, annotations jsonb, generator_url text, receiver text)
 ORDER BY a.fingerprint, a.starts_at
    ON CONFLICT ON CONSTRAINT alert_history_occurrence_key DO UPDATE
   SET status           = CASE WHEN h.status = 'resolved' OR excluded.status = 'resolved' THEN 'resolved' ELSE 'firing' END,
       ends_at          = CASE WHEN excluded.status = 'resolved' THEN excluded.ends_at ELSE h.ends_at END,
       labels           = excluded.labels,
       annotations      = CASE WHEN h.status = 'resolved' AND excluded.status = 'firing' THEN h.annotations ELSE excluded.annotations END,
       generator_url    = coalesce(excluded.generator_url, h.generator_url),
       receiver         = excluded.receiver,
       notifications    = h.notifications + 1,
       -- Alertmanager did notify the resolution: nothing to send it again (reconcile.ts)
       muted_resolution = CASE WHEN excluded.status = 'resolved' AND h.muted_resolution = 'pending' THEN NULL ELSE h.muted_resolution END,
       last_received_at = now()`;

// The same before migration 010 (no muted_resolution column): the webhook keeps working while
// the schema waits to be migrated.
export const UPSERT_BEFORE_010 = UPSERT_ALERT_HISTORY.replace(/\n\s+-- Alertmanager did notify[^\n]*\n[^\n]*muted_resolution[^\n]*\n/, '\n');

/** Writes the payload's alerts; returns how many of each status were written. */
export async function writeAlertHistory(db: Queryable, payload: WebhookPayload): Promise<{ firing: number; resolved: number }> {
  // The same occurrence twice in one payload would make ON CONFLICT touch a row twice: keep the last.
  const occurrences = new Map<string, WebhookPayload['alerts'][number]>();
  for (const alert of payload.alerts) occurrences.set(`${alert.fingerprint}\u0000${alert.startsAt.toISOString()}`, alert);
  const rows = [...occurrences.values()].map((a) => ({
    fingerprint: a.fingerprint,
    alertname: a.labels.alertname,
    severity: a.labels.severity ?? null,
    status: a.status,
    starts_at: a.startsAt.toISOString(),
    ends_at: a.status === 'resolved' ? (a.endsAt ?? new Date()).toISOString() : null,
    labels: a.labels,
    annotations: a.annotations,
    generator_url: a.generatorURL ?? null,
    receiver: payload.receiver || null,
  }));
  if (rows.length > 0) {
    const params = [JSON.stringify(rows)];
    try {
      await db.query(UPSERT_ALERT_HISTORY, params);
    } catch (err) {
      if ((err as { code?: string }).code !== '42703') throw err; // undefined column: 010 not applied yet
      await db.query(UPSERT_BEFORE_010, params);
    }
  }
  return {
    firing: rows.filter((r) => r.status === 'firing').length,
    resolved: rows.filter((r) => r.status === 'resolved').length,
  };
}
