// What the deploy commands (deploy, smoke, rollback, annotate) share: argument parsing with the
// exit-code contract of ops.ts, settings, the database connection, messages without secrets.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type pg from 'pg';
import { redactUrl } from '../config.js';
import type { DeploySettings, Needs } from './deploy/settings.js';
import { opsSettingsOrExit } from './settings.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  positionals: string[];
  string(name: string): string | undefined;
  flag(name: string): boolean;
}

/** Parsed options, or the exit code when there is nothing to run (--help: 0, bad usage: 2). */
export function parseCommand(
  command: string,
  usage: string,
  argv: string[],
  options: Options,
  positionals = 0,
): Parsed | number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`${command}: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return 0;
  }
  if (parsed.positionals.length > positionals) {
    console.error(`${command}: unexpected argument '${parsed.positionals[positionals]}'\n\n${usage}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  return {
    positionals: parsed.positionals,
    string: (name) => (typeof values[name] === 'string' ? (values[name] as string) : undefined),
    flag: (name) => values[name] === true,
  };
}

/** The deploy settings (the deploy part of ./settings.ts), or exit code 2 with every problem listed. */
export function settingsOrExit(command: string, needs: Needs): DeploySettings | number {
  const settings = opsSettingsOrExit(command, { deploy: needs });
  return typeof settings === 'number' ? settings : settings.deploy!;
}

/** A database client, or exit code 1 with the reason (the password never shown). */
export async function connectOrExit(command: string, settings: DeploySettings): Promise<pg.Client | number> {
  // Loaded here, so that smoke and annotate never load the database driver.
  const { connectDeploymentLog } = await import('./deploy/deployment-log.js');
  try {
    return await connectDeploymentLog(settings.databaseUrl!);
  } catch (err) {
    console.error(`${command}: cannot connect to ${redactUrl(settings.databaseUrl!)}: ${(err as Error).message}`);
    return 1;
  }
}

/** A usage problem: the message, the usage text, exit code 2. */
export function usageError(command: string, message: string, usage: string): number {
  console.error(`${command}: ${message}\n\n${usage}`);
  return 2;
}

/** "500ms", "2s", "3m", or plain milliseconds; undefined when it is none of those. */
export function parseDurationMs(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match) return undefined;
  const factor = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  return Math.round(Number(match[1]) * factor);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
