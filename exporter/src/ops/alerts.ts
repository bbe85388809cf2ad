// `cc-ops alerts`: the alert history from the command line. `list` shows recent occurrences (who
// acknowledged them); `ack` acknowledges one occurrence, or every firing one of an alert name:
// the SMS bridge then holds back its repeated pages for SMS_COOLDOWN, and its next occurrence
// pages again. Writes alert_history through DATABASE_URL (the exporter's role is enough).
import { userInfo } from 'node:os';
import { acknowledge, AckError, parseAck } from '../hooks/acknowledge.js';
import { connectDatabaseOrExit } from './database.js';
import { parseCommand, usageError } from './deploy-support.js';
import { isEntryPoint } from './entry.js';
import { opsSettingsOrExit } from './settings.js';

const USAGE = `usage: cc-ops alerts list [--all] [--limit N]
       cc-ops alerts ack <id | fingerprint | alertname> [--by NAME] [--note TEXT] [--starts-at TIME]

list   recent alert occurrences from alert_history (firing ones only unless --all), newest first
ack    acknowledge an occurrence: a row id (from list), an Alertmanager fingerprint (its latest
       occurrence, or the one of --starts-at), or an alert name (every firing occurrence of it).
       The repeated SMS pages of an acknowledged occurrence are held back for SMS_COOLDOWN; its
       next occurrence pages again. Acknowledging again keeps the first acknowledgement.

  --by NAME        who acknowledges (default: your user name)
  --note TEXT      why, what you are doing (at most 1000 characters)
  --starts-at TIME with a fingerprint: the occurrence that started then (RFC 3339)
  --all            list resolved occurrences too
  --limit N        how many to list (default 20)
  --help           this text

Environment: DATABASE_URL (or DATABASE_URL_FILE).

exit: 0 done, 1 the database refused or no such alert, 2 bad usage or configuration
`;

export async function run(argv: string[] = process.argv.slice(2)): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (sub !== 'list' && sub !== 'ack') return usageError('alerts', sub === undefined ? 'say list or ack' : `unknown subcommand '${sub}'`, USAGE);
  const args = parseCommand('alerts', USAGE, rest, {
    by: { type: 'string' },
    note: { type: 'string' },
    'starts-at': { type: 'string' },
    all: { type: 'boolean' },
    limit: { type: 'string' },
  }, sub === 'ack' ? 1 : 0);
  if (typeof args === 'number') return args;

  let target: Record<string, string | undefined> | undefined;
  if (sub === 'ack') {
    const what = args.positionals[0];
    if (!what) return usageError('alerts', 'ack needs an id, a fingerprint or an alert name', USAGE);
    target = /^\d+$/.test(what) ? { id: what } : /^[0-9a-f]{16}$/.test(what) ? { fingerprint: what, starts_at: args.string('starts-at') } : { alertname: what };
  }
  const limit = Number(args.string('limit') ?? '20');
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return usageError('alerts', `--limit must be 1 to 1000, got "${args.string('limit')}"`, USAGE);
  const settings = opsSettingsOrExit('alerts', { database: true });
  if (typeof settings === 'number') return settings;

  let request;
  if (target) {
    // who acknowledges: --by, else USER, else the account's name
    try {
      request = parseAck({ ...target, by: args.string('by'), note: args.string('note') }, settings.user ?? accountName());
    } catch (err) {
      if (err instanceof AckError) return usageError('alerts', err.message, USAGE);
      throw err;
    }
  }

  const client = await connectDatabaseOrExit('alerts', settings.databaseUrl, 'the database holding alert_history', 'cc-ops alerts');
  if (typeof client === 'number') return client;
  try {
    if (request) {
      const rows = await acknowledge(client, request);
      for (const r of rows) {
        console.log(`alerts: ${r.already ? 'already acknowledged' : 'acknowledged'} #${r.id} ${r.alertname} (${r.status}, since ${r.starts_at.toISOString()}) by ${r.acknowledged_by} at ${r.acknowledged_at.toISOString()}${r.ack_note ? `: ${r.ack_note}` : ''}`);
      }
      return 0;
    }
    const { rows } = await client.query<{ id: string; alertname: string; severity: string | null; status: string; starts_at: Date; ends_at: Date | null; labels: Record<string, string>; acknowledged_by: string | null; acknowledged_at: Date | null }>(
      `SELECT id, alertname, severity, status, starts_at, ends_at, labels, acknowledged_by, acknowledged_at
         FROM public.alert_history WHERE $1 OR status = 'firing' ORDER BY starts_at DESC LIMIT $2`,
      [args.flag('all'), limit],
    );
    if (rows.length === 0) console.log(`alerts: no ${args.flag('all') ? '' : 'firing '}alert on record`);
    for (const r of rows) {
      const labels = Object.entries(r.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(' ');
      const ack = r.acknowledged_by ? `ack ${r.acknowledged_by} ${r.acknowledged_at?.toISOString()}` : 'not acknowledged';
      console.log(`#${r.id}  ${r.status.padEnd(8)} ${r.alertname} ${r.severity ?? ''} ${labels}  since ${r.starts_at.toISOString()}${r.ends_at ? ` until ${r.ends_at.toISOString()}` : ''}  ${ack}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof AckError) {
      console.error(`alerts: ${err.message}`);
      return 1;
    }
    console.error(`alerts: ${(err as Error).message}`);
    return 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The operating system account's name, when USER is not set. */
function accountName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await run();
