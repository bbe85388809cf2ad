#!/usr/bin/env node
// `cc-ops`: the operator's command line. Each command lives in its own module in this folder and
// is loaded only when asked for, so `cc-ops smoke` never needs a database driver to start.
//
// Every command module exports `run(argv): Promise<number>` and follows the same contract:
//   --help prints its usage and exits 0;
//   exit 0 = done, 1 = the operation failed (a check failed, a peer refused), 2 = bad usage or
//   configuration (nothing was attempted), 3 = done with a warning the caller must look at
//   (for example the database was written but Grafana could not be annotated).
// Errors go to stderr as one readable line, prefixed with the command; secrets never appear.
// A command reads its environment only through settings.ts, after its arguments, asking for the
// settings it uses (so `cc-ops backup` is not stopped by a broken exporter setting beside
// DATABASE_URL); a problem in them is exit 2 naming the variable.

import { isEntryPoint } from './entry.js';

export interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

export const COMMANDS: Record<string, Command> = {
  migrate: { summary: 'apply the pending SQL migrations', load: () => import('./migrate.js') },
  backup: { summary: 'back up the app tables into backups/<date>/ (manifest, checksums)', load: () => import('./backup.js') },
  restore: { summary: 'restore a backup (--dry-run, --tables=a,b), in one transaction', load: () => import('./restore.js') },
  deploy: { summary: 'record a deployment (start) and its outcome (finish), with Grafana annotations', load: () => import('./deploy.js') },
  smoke: { summary: 'smoke-test a deployment: main page, menu page, API health', load: () => import('./smoke.js') },
  analyze: { summary: "compare a new release's error ratio and latency with the previous one's (Prometheus)", load: () => import('./analyze.js') },
  rollback: { summary: 'roll an environment back to its last successful deployment (Vercel), log it, alert', load: () => import('./rollback.js') },
  annotate: { summary: 'add a Grafana annotation', load: () => import('./annotate.js') },
  alerts: { summary: 'list alert occurrences, acknowledge one (who, when, a note)', load: () => import('./alerts.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: cc-ops <command> [options]    (cc-ops <command> --help for a command's options)

commands:
${lines.join('\n')}

exit codes: 0 done, 1 the operation failed, 2 bad usage or configuration, 3 done with a warning
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? console.error : console.log)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`cc-ops: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

// Run only as the entry point (tests import COMMANDS and main).
if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
