#!/usr/bin/env node
// `npm test`: the whole suite and the demo on the current LTS, then on each other supported
// release the tests whose outcome depends on the release: the unit tests, the
// deploy tests (every deploy/ command line, the bundles) and the demo. Each
// run's node is first on PATH, so the tests' own `node` children are that
// release too (test/fixtures/sandbox.ts runs the agents with process.execPath).
// Each mocha run ends with its "N passed, N failed" line (test/reporter.cjs);
// this ends with one line of totals over all runs, and exits 1 if any run
// failed. Needs `node scripts/ensure.mjs test --node-releases` first. With
// --releases it runs only the release-dependent part, on every release.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN_MAJOR, nodeOf, RELEASES, versionOf } from './node-releases.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const MOCHA = join(root, 'node_modules/mocha/bin/mocha.js');
const TOTALS = /^(\d+) passed, (\d+) failed/;

// Mocha adds positional specs to .mocharc.json's instead of replacing them: a
// part of the suite runs without the file, with the file's other options.
function partOfSuite(specs) {
  const { spec: _all, ...options } = JSON.parse(readFileSync(join(root, '.mocharc.json'), 'utf8'));
  const flags = Object.entries(options).flatMap(([key, value]) =>
    value === true ? [`--${key}`] : value === false ? [] : [`--${key}`, String(value)],
  );
  return [MOCHA, '--no-config', ...flags, ...specs];
}

const main = RELEASES.find((r) => r.major === MAIN_MAJOR);
// --releases: only the release-dependent part, on every release (main included), without the whole suite.
const releasesOnly = process.argv.includes('--releases');
const releasePart = (release) => [
  {
    release,
    what: 'unit and deploy tests',
    args: partOfSuite(['test/dist/unit/**/*.test.js', 'test/dist/integration/deploy/**/*.test.js']),
  },
  // The demo is one check: it passes when it exits 0.
  { release, what: 'the demo', args: [join(root, 'test/dist/demo.js')], single: true },
];
const runs = releasesOnly
  ? RELEASES.flatMap(releasePart)
  : [
      { release: main, what: 'the whole suite', args: [MOCHA] },
      // The suite runs every part of the demo but not the demo itself: the README's first command, on the LTS too.
      ...releasePart(main).filter((part) => part.single),
      ...RELEASES.filter((r) => r !== main).flatMap(releasePart),
    ];

/** Runs one part on its release, its output passed through; resolves to its passed and failed counts. */
function runPart({ release, what, args, single }) {
  const node = nodeOf(release);
  if (!existsSync(node))
    return Promise.resolve({ passed: 0, failed: 1, note: `no ${node}: run node scripts/ensure.mjs test --node-releases` });
  process.stdout.write(`\n== Node.js ${versionOf(release)} (${node}): ${what}\n`);
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` };
  const child = spawn(node, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  let partial = '';
  const failures = [];
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    last = (last + chunk).split('\n').slice(-10).join('\n');
    // The reporter's "failed: TITLE: ERROR" lines, kept to be named again under the totals.
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('failed: ') && failures.length < 20) failures.push(line);
  });
  return new Promise((settle) => {
    child.on('close', (code, signal) => {
      const resolve = (result) => settle({ ...result, failures });
      const totals = last
        .split('\n')
        .map((line) => TOTALS.exec(line))
        .findLast(Boolean);
      const ok = code === 0;
      if (single) resolve({ passed: ok ? 1 : 0, failed: ok ? 0 : 1 });
      // A run that dies before its closing line, or exits non-zero with no failure counted, counts as one failure.
      else if (!totals) resolve({ passed: 0, failed: 1, note: `ended (${code ?? signal}) without its closing line` });
      else {
        const [passed, failed] = [Number(totals[1]), Number(totals[2])];
        resolve({ passed, failed: failed === 0 && !ok ? 1 : failed, ...(failed === 0 && !ok ? { note: `exited ${code ?? signal}` } : {}) });
      }
    });
  });
}

const results = [];
for (const run of runs) results.push({ run, ...(await runPart(run)) });

process.stdout.write('\n== Totals\n');
for (const { run, passed, failed, note, failures } of results) {
  const node = `Node.js ${versionOf(run.release)}`.padEnd(16);
  process.stdout.write(`${node} ${run.what.padEnd(22)} ${passed} passed, ${failed} failed${note ? ` (${note})` : ''}\n`);
  for (const failure of failures ?? []) process.stdout.write(`  ${failure}\n`);
}
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const failed = results.reduce((sum, r) => sum + r.failed, 0);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
