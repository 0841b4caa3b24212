// Lint that keeps the pipeline cut along the data's path (see README, "Architecture"):
// ingest → peers → streams → transcode → packaging → delivery, with media formats at the bottom.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** `no-restricted-imports` patterns that forbid importing the given src/ folders (and mediasoup). */
const forbid = (folders, { mediasoup = false, message } = {}) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        ...folders.map((folder) => ({
          regex: `(^|/)(\\.\\./)+${folder}(/|$)`,
          message: message ?? `this module must not depend on ${folder}/ (see README, Architecture)`,
        })),
        ...(mediasoup ? [{ regex: '^mediasoup(/|$)', message: 'this module must not depend on mediasoup' }] : []),
      ],
    },
  ],
});

const FEATURES = ['cluster', 'delivery', 'health', 'ingest', 'mediasoup', 'metrics', 'packaging', 'peers', 'streams', 'transcode', 'web'];

export default tseslint.config(
  { ignores: ['dist/**', 'public/**', 'node_modules/**', 'bench-results/**', 'test-artifacts/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.json'] })] },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Nest modules are classes with only decorators.
      '@typescript-eslint/no-extraneous-class': 'off',
    },
  },
  // The boundaries. Each folder may use what lies upstream of it on the data's path, never downstream.
  { files: ['src/media/**/*.ts'], rules: forbid(['common', 'config', 'events', ...FEATURES, 'lifecycle', 'logging'], { mediasoup: true }) },
  { files: ['src/config/**/*.ts'], rules: forbid([...FEATURES, 'events', 'lifecycle', 'logging', 'media']) },
  {
    files: ['src/packaging/**/*.ts'],
    rules: forbid(['peers', 'mediasoup', 'ingest', 'streams', 'delivery', 'cluster', 'metrics', 'health'], { mediasoup: true }),
  },
  { files: ['src/transcode/**/*.ts'], rules: forbid(['packaging', 'delivery', 'streams', 'ingest', 'cluster', 'metrics', 'health']) },
  { files: ['src/peers/**/*.ts'], rules: forbid(['ingest', 'streams', 'transcode', 'packaging', 'delivery', 'cluster', 'metrics']) },
  { files: ['src/delivery/**/*.ts'], rules: forbid(['peers', 'mediasoup', 'ingest', 'transcode', 'metrics'], { mediasoup: true }) },
  { files: ['src/streams/**/*.ts'], rules: forbid(['ingest', 'delivery', 'metrics']) },
  {
    files: ['src/mediasoup/**/*.ts'],
    rules: forbid(['peers', 'ingest', 'streams', 'transcode', 'packaging', 'delivery', 'cluster', 'metrics']),
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // Scripts, the bench and test helpers run in Node; some hand code to a browser page (page.evaluate).
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
