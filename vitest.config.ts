import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['exporter/src/**/*.test.ts', 'web-otel/src/**/*.test.ts', 'web-otel/test/**/*.test.ts', 'grafana/src/**/*.test.ts', 'edge/**/*.test.ts', 'docs/**/*.test.ts'],
    globalSetup: ['exporter/src/test/global-setup.ts'],
    // Each test file starts its own embedded database or server database.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
