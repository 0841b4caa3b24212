/** Suites that start servers, browsers or FFmpeg run one at a time (--runInBand in package.json). */
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  testEnvironment: 'node',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // Compiles dist/ for the specs that run `node dist/main.js` (only when the run includes them).
  globalSetup: '<rootDir>/test/global-setup.js',
};
