// A throwaway Postgres cluster of its own (initdb, pg_ctl from Debian's postgresql package) in a
// temporary directory on a free loopback port, for tests that stop and restart the server
// itself, crash included, without touching the shared test server. initdb refuses to run as
// root: as root (CI) the cluster runs as the postgres system user the package creates.
// privatePostgresSkip() says why it cannot run here; in CI (CI=true) that is an error instead.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/ops/stack/processes.js';

const execFileAsync = promisify(execFile);

const PG_ROOT = '/usr/lib/postgresql';

function binDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT).filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'initdb'))).sort((a, b) => Number(a) - Number(b));
  const latest = versions.at(-1);
  return latest ? join(PG_ROOT, latest, 'bin') : undefined;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' })) };
  } catch {
    return undefined;
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Why a private cluster cannot run here, or undefined. In CI a reason throws instead. */
export function privatePostgresSkip(): string | undefined {
  let reason: string | undefined;
  if (!binDir()) reason = `no initdb under ${PG_ROOT}/*/bin (Debian package postgresql)`;
  else if (isRoot && !systemUser('postgres')) reason = 'running as root and there is no postgres system user to run initdb as';
  else if (isRoot && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) reason = 'running as root without runuser';
  if (reason && process.env.CI === 'true') throw new Error(`CI=true but a private Postgres cluster cannot start: ${reason}`);
  return reason;
}

export interface PrivatePostgres {
  connectionString: string;
  port: number;
  /** pg_ctl stop: fast (sessions terminated, clean shutdown) or immediate (a crash: recovery at the next start) */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** stops it if running and removes its directory */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!bin) throw new Error(privatePostgresSkip() ?? 'no initdb');
  const dir = mkdtempSync(join(tmpdir(), 'cc-private-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const owner = isRoot ? systemUser('postgres') : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);

  // Asynchronous: the exporter under test runs in this process and must keep serving meanwhile.
  const run = async (tool: string, args: string[]) => {
    const command = owner ? 'runuser' : join(bin, tool);
    const argv = owner ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    try {
      await execFileAsync(command, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    } catch (err) {
      const e = err as { code?: number; stderr?: string; stdout?: string; message: string };
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`${tool} ${args.join(' ')} failed (${e.code ?? e.message}): ${e.stderr ?? ''}${e.stdout ?? ''}\n${log}`);
    }
  };

  // Trust on loopback only, in a cluster that lives for one test file.
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=40 -c shared_buffers=16MB -c fsync=on -c synchronous_commit=on`;
  let running = false;
  const start = async () => {
    await run('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate') => {
    await run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    running = false;
  };
  await start();
  return {
    port,
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    async destroy() {
      if (running) await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
