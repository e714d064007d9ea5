// `node test/dist/bench/write-doc.js`: writes docs/performance.md's figures from
// test/bench/results/latest.json, as `npm run bench` does after a run. For a
// results file put in place by hand.
import { readFile } from 'node:fs/promises';
import { LATEST, writePerformanceDoc } from './doc-tables.js';

writePerformanceDoc(JSON.parse(await readFile(LATEST, 'utf8'))).catch((error: Error) => {
  process.stderr.write(`write-doc: ${error.message}\n`);
  process.exitCode = 1;
});
