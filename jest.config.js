/** Suites that start servers, browsers or FFmpeg run one at a time (--runInBand in package.json). */
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  testEnvironment: 'node',
  // Jest's own reporters, then ours, so the plain count is the last line.
  reporters: [
    '<rootDir>/node_modules/@jest/reporters/build/DefaultReporter.js',
    '<rootDir>/node_modules/@jest/reporters/build/SummaryReporter.js',
    '<rootDir>/test/summary-reporter.js',
  ],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // Compiles dist/ for the specs that run `node dist/main.js` (only when the run includes them).
  globalSetup: '<rootDir>/test/global-setup.js',
};
