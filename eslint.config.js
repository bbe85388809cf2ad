import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/dist-bench/**', '**/node_modules/**', 'grafana/dashboards/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['exporter/bench/**', 'exporter/src/ops/**', 'grafana/src/generate.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The edge library warns once with console.warn; its example server prints its port.
    files: ['edge/**'],
    rules: { 'no-console': 'off' },
  },
);
