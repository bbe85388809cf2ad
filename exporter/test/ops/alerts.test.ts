// `cc-ops alerts list` and `cc-ops alerts ack` as an operator runs them (the built
// dist/ops/ops.js, a child process): the exit codes of the ops contract, the acknowledgement on
// the alert_history row, and nothing written on bad input.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAlertHistory } from '../../src/hooks/alert-history.js';
import { parseWebhookPayload } from '../../src/hooks/payload.js';
import { backends, connect, createTestDatabase, type TestDatabase } from '../support/databases.js';

const opsJs = fileURLToPath(new URL('../../dist/ops/ops.js', import.meta.url));
const server = backends.find((b) => b.kind === 'postgres')!;

function ops(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [opsJs, ...args], { env: { PATH: process.env.PATH ?? '', USER: 'oncall-sam', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe.skipIf(server.skip !== undefined)(`cc-ops alerts [postgres]${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let db: TestDatabase;
  let client: pg.Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    client = await connect(db);
    env = { DATABASE_URL: db.connectionString };
    const alert = (alertname: string, fingerprint: string, status: 'firing' | 'resolved') => ({
      status, labels: { alertname, severity: 'critical', store: 'downtown' }, annotations: { summary: alertname },
      startsAt: '2026-12-01T10:00:00Z', ...(status === 'resolved' ? { endsAt: '2026-12-01T10:20:00Z' } : {}), fingerprint,
    });
    await writeAlertHistory(client, parseWebhookPayload({ version: '4', receiver: 'alert-history', status: 'firing', groupKey: 'g', alerts: [alert('PaymentFailures', '00000000000000a1', 'firing')] }));
    await writeAlertHistory(client, parseWebhookPayload({ version: '4', receiver: 'alert-history', status: 'resolved', groupKey: 'h', alerts: [alert('StuckOrders', '00000000000000b2', 'resolved')] }));
  });
  afterAll(async () => {
    await client?.end();
    await db?.stop();
  });

  const acks = async () => (await client.query(`SELECT alertname, acknowledged_by, ack_note FROM alert_history WHERE acknowledged_at IS NOT NULL ORDER BY id`)).rows;

  it('lists firing occurrences (all with --all), acknowledges by id, fingerprint or name, once, and refuses bad input with 2 and an unknown alert with 1', async () => {
    const list = await ops(['alerts', 'list'], env);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(list.stdout).toMatch(/^#\d+ +firing +PaymentFailures critical store=downtown +since 2026-12-01T10:00:00.000Z +not acknowledged\n$/);
    expect((await ops(['alerts', 'list', '--all'], env)).stdout.split('\n').filter(Boolean)).toHaveLength(2);
    const id = /^#(\d+)/.exec(list.stdout)![1]!;

    // Bad usage: nothing written.
    for (const args of [['alerts'], ['alerts', 'nope'], ['alerts', 'ack'], ['alerts', 'ack', id, '--note', 'x'.repeat(1001)], ['alerts', 'list', '--limit', '0'], ['alerts', 'ack', id, 'extra']]) {
      const bad = await ops(args, env);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(/^alerts: /);
    }
    expect((await ops(['alerts', 'ack', 'NeverFired'], env))).toMatchObject({ code: 1, stderr: 'alerts: no firing NeverFired alert on record\n' });
    expect((await ops(['alerts', 'ack', id], {})).code).toBe(2); // no DATABASE_URL
    expect(await acks()).toEqual([]);

    const acked = await ops(['alerts', 'ack', id, '--note', 'provider incident'], env);
    expect(acked.code).toBe(0);
    expect(acked.stdout).toMatch(new RegExp(`^alerts: acknowledged #${id} PaymentFailures \\(firing, since 2026-12-01T10:00:00.000Z\\) by oncall-sam at \\S+: provider incident\\n$`));
    const again = await ops(['alerts', 'ack', '00000000000000a1', '--by', 'alex'], env);
    expect(again.stdout).toMatch(/^alerts: already acknowledged #\d+ PaymentFailures .* by oncall-sam /);
    expect(await acks()).toEqual([{ alertname: 'PaymentFailures', acknowledged_by: 'oncall-sam', ack_note: 'provider incident' }]);
    expect((await ops(['alerts', 'list'], env)).stdout).toMatch(/ack oncall-sam 20\d\d-/);
  });
});
