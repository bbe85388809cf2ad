// How long `npm start` takes to its first good scrape: spawn to the first /metrics that answers
// with cc_up 1 and the demo's active orders. Cold: no embedded template kept yet (the first start
// of an installation: initdb, the migrations, then the template is written); warm: the template
// is there. Each start is stopped with SIGTERM before the next. `npm run bench:start`
//
// It removes the kept template (node_modules/.cache/cc-exporter/embedded-*.tar.gz) for the cold
// starts; the next start keeps a new one.
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, repoRoot as root } from '../src/paths.js';

const RUNS = Number(process.argv[2] ?? 3);
const PORT = 19_464;

async function removeTemplates(): Promise<void> {
  const files = await readdir(cacheDir).catch(() => [] as string[]);
  await Promise.all(files.filter((f) => f.startsWith('embedded-')).map((f) => rm(join(cacheDir, f), { force: true })));
}

async function scrapeOk(): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${PORT}/metrics`);
    const body = await res.text();
    return res.ok && /^cc_up 1$/m.test(body) && /^cc_orders_active\{/m.test(body);
  } catch {
    return false;
  }
}

/** Seconds from spawning `npm start` to its first good scrape. */
async function timeStart(): Promise<number> {
  const started = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, EXPORTER_PORT: String(PORT), EXPORTER_HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    const deadline = started + 120_000;
    while (!(await scrapeOk())) {
      if (gone) throw new Error('npm start exited before its first good scrape');
      if (performance.now() > deadline) throw new Error('no good scrape within 120 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    return (performance.now() - started) / 1000;
  } finally {
    if (!gone) process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${xs.map((x) => x.toFixed(2)).join(', ')} s (median ${median(xs).toFixed(2)} s)`;

if (await scrapeOk()) throw new Error(`port ${PORT} already serves an exporter: stop it first`);
await timeStart(); // builds the exporter if a source changed, so the runs below measure starts only
const cold: number[] = [];
const warm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  await removeTemplates();
  cold.push(await timeStart());
}
for (let i = 0; i < RUNS; i++) warm.push(await timeStart());
console.log(`npm start to the first good scrape (cc_up 1 and the demo's orders), ${RUNS} runs each, Node ${process.version}`);
console.log(`  cold (no kept template: initdb, migrations, template written): ${fmt(cold)}`);
console.log(`  warm (the template kept by an earlier start):                  ${fmt(warm)}`);
