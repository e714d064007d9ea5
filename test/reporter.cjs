// Mocha's spec output, plus the plain closing line CI reads: "N passed, N failed".
// Each failure is named once more just above it, one line each, because CI
// shows only the tail of a long run.
const Mocha = require('mocha');

const oneLine = (text) => String(text).replace(/\s+/g, ' ').trim().slice(0, 200);

class SpecWithTotals extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failed = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test, error) => {
      failed.push(`failed: ${oneLine(test.fullTitle())}: ${oneLine(error?.message ?? error)}`);
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      if (failed.length > 0) process.stdout.write(`\n${failed.join('\n')}\n`);
      process.stdout.write(`\n${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}\n`);
    });
  }
}

module.exports = SpecWithTotals;
