// Three tiers of tests, each a vitest project (`npx vitest run --project unit`):
//   unit    beside the code in */src: no process, no database (vitest.unit-guard.ts refuses both)
//   system  exporter/test, web-otel/test, grafana/test, prometheus/, checks/: real Postgres and
//           PGlite databases, the built exporter and cc-ops as child processes, jsonnet, promtool,
//           amtool, actionlint, npm pack
//   e2e     *.e2e.test.ts: the real Prometheus, Alertmanager, headless Chromium and Deno
// `npm test` runs all three; CI runs them as parallel jobs (.github/workflows/ci.yml).
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const e2e = '**/*.e2e.test.ts';

export default defineConfig({
  test: {
    // Most system and e2e files wait on processes, timers and Alertmanager's group_wait rather
    // than compute, so files run two more at a time than there are cores (vitest's default is one
    // fewer). VITEST_MAX_WORKERS overrides it; `npm run bench:tests` prints the tier times.
    maxWorkers: Number(process.env.VITEST_MAX_WORKERS) || availableParallelism() + 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['exporter/src/**/*.test.ts', 'web-otel/src/**/*.test.ts', 'grafana/src/**/*.test.ts', 'edge/**/*.test.ts'],
          exclude: [e2e],
          setupFiles: ['vitest.unit-guard.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: ['exporter/test/**/*.test.ts', 'web-otel/test/**/*.test.ts', 'grafana/test/**/*.test.ts', 'prometheus/**/*.test.ts', 'checks/**/*.test.ts'],
          exclude: [e2e],
          globalSetup: ['exporter/test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['exporter/test/**/*.e2e.test.ts', 'web-otel/test/**/*.e2e.test.ts', 'grafana/test/**/*.e2e.test.ts'],
          globalSetup: ['exporter/test/support/global-setup.ts'],
        },
      },
    ],
  },
});
