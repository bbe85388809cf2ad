// Acknowledging an alert occurrence: who, when, a note, recorded on its alert_history row. Shared
// by POST /alerts/ack (the System Health dashboard's link, scripts) and `cc-ops alerts ack`.
// Not an Alertmanager silence (migration 010 says why): the SMS bridge holds back the repeated
// pages of an acknowledged occurrence for SMS_COOLDOWN, and its next occurrence pages again.
// Acknowledging twice keeps the first acknowledgement (who was on it first) and says so.
import type { Queryable } from '../db.js';

export const MAX_ACK_NOTE = 1000;
export const MAX_ACK_BY = 100;

export class AckError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 413) {
    super(message);
  }
}

/** Which occurrences: a row id, a fingerprint (its latest occurrence, or the one starting at startsAt), or every firing occurrence of an alert name. */
export type AckTarget = { id: number } | { fingerprint: string; startsAt?: Date } | { alertname: string };

export interface AckRequest {
  target: AckTarget;
  by: string;
  note: string | undefined;
}

export interface AckedRow {
  id: number;
  alertname: string;
  fingerprint: string;
  starts_at: Date;
  status: string;
  acknowledged_by: string;
  acknowledged_at: Date;
  ack_note: string | null;
  /** acknowledged before this request (the first acknowledgement is kept) */
  already: boolean;
}

/** Validates an acknowledgement from untrusted input (a form, JSON, the command line). */
export function parseAck(input: Record<string, unknown>, byFallback?: string): AckRequest {
  const str = (name: string): string | undefined => {
    const value = input[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') throw new AckError(`${name} must be a string`, 400);
    return String(value).trim() || undefined;
  };
  const note = str('note');
  if (note !== undefined && note.length > MAX_ACK_NOTE) throw new AckError(`the note is ${note.length} characters; at most ${MAX_ACK_NOTE}`, 413);
  const by = str('by') ?? byFallback?.trim();
  if (!by) throw new AckError('by is required: who acknowledges (a name or handle)', 400);
  if (by.length > MAX_ACK_BY) throw new AckError(`by is ${by.length} characters; at most ${MAX_ACK_BY}`, 400);
  // Postgres refuses NUL in text; nothing else is special.
  if ((by + (note ?? '')).includes('\u0000')) throw new AckError('by and note must not contain NUL characters', 400);

  const id = str('id');
  const fingerprint = str('fingerprint');
  const alertname = str('alertname');
  const startsAtRaw = str('starts_at');
  const given = [id, fingerprint, alertname].filter((v) => v !== undefined).length;
  if (given !== 1) throw new AckError('name exactly one of id, fingerprint or alertname', 400);
  let target: AckTarget;
  if (id !== undefined) {
    if (!/^\d{1,15}$/.test(id)) throw new AckError(`id must be an alert_history row id (a positive integer), got "${id}"`, 400);
    target = { id: Number(id) };
  } else if (fingerprint !== undefined) {
    if (!/^[0-9a-f]{1,64}$/i.test(fingerprint)) throw new AckError(`fingerprint must be Alertmanager's hex fingerprint, got "${fingerprint.slice(0, 80)}"`, 400);
    let startsAt: Date | undefined;
    if (startsAtRaw !== undefined) {
      startsAt = new Date(startsAtRaw);
      if (Number.isNaN(startsAt.getTime())) throw new AckError(`starts_at must be an RFC 3339 time, got "${startsAtRaw.slice(0, 80)}"`, 400);
    }
    target = { fingerprint, ...(startsAt ? { startsAt } : {}) };
  } else {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,199}$/.test(alertname!)) throw new AckError(`alertname must be an alert's name, got "${alertname!.slice(0, 80)}"`, 400);
    target = { alertname: alertname! };
  }
  return { target, by, note };
}

const ACK = `
WITH target AS (
  SELECT id FROM public.alert_history
   WHERE id = $1::bigint
  UNION
  (SELECT id FROM public.alert_history
    WHERE fingerprint = $2::text AND ($3::timestamptz IS NULL OR starts_at = $3::timestamptz)
    ORDER BY starts_at DESC LIMIT 1)
  UNION
  SELECT id FROM public.alert_history
   WHERE alertname = $4::text AND status = 'firing'
), acked AS (
  UPDATE public.alert_history h
     SET acknowledged_by = $5, acknowledged_at = now(), ack_note = $6
    FROM target
   WHERE h.id = target.id AND h.acknowledged_at IS NULL
  RETURNING h.id, h.alertname, h.fingerprint, h.starts_at, h.status, h.acknowledged_by, h.acknowledged_at, h.ack_note
)
SELECT a.*, false AS already FROM acked a
UNION ALL
SELECT h.id, h.alertname, h.fingerprint, h.starts_at, h.status, h.acknowledged_by, h.acknowledged_at, h.ack_note, true
  FROM public.alert_history h JOIN target USING (id)
 WHERE h.id NOT IN (SELECT id FROM acked)
 ORDER BY id`;

/** Records the acknowledgement; throws AckError 404 when no occurrence matches. */
export async function acknowledge(db: Queryable, { target, by, note }: AckRequest): Promise<AckedRow[]> {
  const params = [
    'id' in target ? target.id : null,
    'fingerprint' in target ? target.fingerprint : null,
    'fingerprint' in target ? target.startsAt?.toISOString() ?? null : null,
    'alertname' in target ? target.alertname : null,
    by,
    note ?? null,
  ];
  const { rows } = await db.query<AckedRow>(ACK, params);
  if (rows.length === 0) {
    const what = 'id' in target ? `alert_history row ${target.id}` : 'fingerprint' in target ? `alert with fingerprint ${target.fingerprint}` : `firing ${target.alertname} alert`;
    throw new AckError(`no ${what} on record`, 404);
  }
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}
