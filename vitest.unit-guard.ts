// The unit tier starts no process and opens no database: a test that does belongs in the system
// tier (exporter/test, web-otel/test, grafana/test). This setup file, loaded before each unit
// test file, makes both fail at once with that message instead of slowing the tier down.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import pg from 'pg';

const refuse = (what: string) => () => {
  throw new Error(`a unit test ${what}: move it to the system tier (exporter/test, web-otel/test or grafana/test)`);
};

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as Record<string, unknown>)[name] = refuse(`started a process (child_process.${name})`);
}
syncBuiltinESMExports();
pg.Client.prototype.connect = refuse('connected to a database (pg.Client)') as never;
pg.Pool.prototype.connect = refuse('connected to a database (pg.Pool)') as never;
