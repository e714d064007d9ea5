#!/usr/bin/env node
// Part of `npm run lint`: no source line over 160 characters. The formatter
// wraps code at 140, but it cannot wrap a long string or comment.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const LIMIT = 160;
const root = fileURLToPath(new URL('..', import.meta.url));
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts', '*.mjs', '*.cjs', '*.js'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file !== '' && !file.includes('/dist/'));
let found = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(`${root}/${file}`, 'utf8');
  } catch {
    continue; // listed by git but deleted in the working tree
  }
  text.split('\n').forEach((line, i) => {
    if (line.length <= LIMIT) return;
    found++;
    console.log(`${file}:${i + 1}: ${line.length} characters (at most ${LIMIT})`);
  });
}
if (found > 0) {
  console.log(`${found} line(s) over ${LIMIT} characters`);
  process.exit(1);
}
