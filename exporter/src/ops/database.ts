// The database of the ops commands that work on DATABASE_URL (migrate, backup, restore, alerts):
// connected with the exit codes of ops.ts, the password never shown. The URL comes from
// ./settings.ts (read and checked as the exporter reads it); the deploy commands connect through
// deploy-support.ts.
import pg from 'pg';
import { redactUrl } from '../config.js';

/**
 * A connected client, or the exit code after saying why: 2 when DATABASE_URL is not set, 1 when
 * the server cannot be reached. `purpose` ends "…is not set; it names <purpose>".
 */
export async function connectDatabaseOrExit(command: string, databaseUrl: string | undefined, purpose: string, applicationName: string): Promise<pg.Client | number> {
  if (!databaseUrl) {
    console.error(`${command}: DATABASE_URL (or DATABASE_URL_FILE) is not set; it names ${purpose}`);
    return 2;
  }
  const client = new pg.Client({ connectionString: databaseUrl, application_name: applicationName });
  try {
    await client.connect();
  } catch (err) {
    console.error(`${command}: cannot connect to ${redactUrl(databaseUrl)}: ${(err as Error).message}`);
    return 1;
  }
  return client;
}
