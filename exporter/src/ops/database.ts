// The database of the ops commands that work on DATABASE_URL (migrate, backup, restore): read
// as the exporter reads it (the variable or its _FILE), with the exit codes of ops.ts, and the
// password never shown. (deploy, smoke, rollback and annotate have their own settings:
// deploy-support.ts.)
import pg from 'pg';
import { ConfigError, loadConfig, redactUrl } from '../config.js';

/**
 * A connected client, or the exit code after saying why: 2 when DATABASE_URL is missing or
 * invalid, 1 when the server cannot be reached. `purpose` ends "…is not set; it names <purpose>".
 */
export async function connectDatabaseOrExit(command: string, purpose: string, applicationName: string): Promise<pg.Client | number> {
  let databaseUrl: string | undefined;
  try {
    databaseUrl = loadConfig(process.env).databaseUrl;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${command}: ${err.message}`);
    return 2;
  }
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
