/** Ends the run with a plain `N passed, N failed` line, the form CI reads in any language. */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests ? `, ${results.numPendingTests} skipped` : '';
    process.stdout.write(`\n${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped}\n`);
  }
}

module.exports = SummaryReporter;
