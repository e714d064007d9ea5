#!/usr/bin/env node
// Makes a fresh Debian 12 machine (as root) ready for one purpose: `node
// scripts/ensure.mjs demo|bench|test` installs from apt the system tools that
// purpose needs (scripts/system-tools.mjs), with none named it builds only;
// then npm dependencies from the lockfile and an incremental build. With
// --node-releases, also the pinned Node.js releases `npm test` runs on
// (scripts/node-releases.mjs). Each step is skipped when already satisfied, so
// it is cheap to run before every `npm test` and `npm run demo`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, isRunningNode, RELEASES, releaseDir } from './node-releases.mjs';
import { missingPackages, needsOf, PURPOSES } from './system-tools.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function onPath(binary) {
  const dirs = `${process.env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`.split(delimiter);
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function run(command, args, options = {}) {
  console.log(`ensure: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    console.error(`ensure: '${command} ${args.join(' ')}' failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

const purposes = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const unknown = purposes.find((purpose) => !PURPOSES.includes(purpose));
if (unknown !== undefined || purposes.length > 1) {
  console.error(`ensure: usage: node scripts/ensure.mjs [${PURPOSES.join('|')}] [--node-releases]`);
  process.exit(2);
}
const needs = purposes.length === 0 ? [] : needsOf(purposes[0]);
const missing = missingPackages(needs, (need) => (need.command ? onPath(need.command) : existsSync(need.file)));
if (missing.length > 0) {
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    console.error(`ensure: missing system packages: ${missing.join(' ')}; install them as root (apt-get install ${missing.join(' ')})`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  // Install, never start: lxc's lxc-net service would otherwise put a bridge and
  // NAT rules on this machine's own network. policy-rc.d is Debian's switch for it.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) {
    writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    // run() exits on failure: an exit handler still removes it.
    process.on('exit', () => rmSync(policy, { force: true }));
  }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  if (ownPolicy) rmSync(policy, { force: true });
}

const installed = join(root, 'node_modules/.package-lock.json');
const lockfile = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lockfile).mtimeMs) {
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
run('npx', ['tsc', '-b']);

// npm pack checks the tarball against the registry's integrity; the pin here
// must match too, so a release cannot change under the same version. Only
// bin/node is kept, and it appears at its final path in one rename, so an
// interrupted fetch is simply fetched again.
function ensureNodeRelease(release) {
  const dir = releaseDir(release);
  if (existsSync(join(dir, 'bin/node'))) return;
  const pkg = `node-linux-${process.arch}`;
  const pinned = release.integrity[process.arch];
  if (!pinned) {
    console.error(`ensure: no Node.js ${release.version} is pinned for ${process.arch} (scripts/node-releases.mjs)`);
    process.exit(1);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, '.fetch-'));
  // run() and the checks exit on failure: the exit handler still removes it.
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  process.on('exit', removeWork);
  run('npm', ['pack', `${pkg}@${release.version}`, '--pack-destination', work, '--silent'], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tarball = join(work, `${pkg}-${release.version}.tgz`);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== pinned) {
    console.error(`ensure: ${pkg}@${release.version} has integrity ${integrity}, not the pinned ${pinned}`);
    process.exit(1);
  }
  run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
  try {
    renameSync(join(work, 'package'), dir);
  } catch (error) {
    // Another ensure got there first.
    if (!existsSync(join(dir, 'bin/node'))) throw error;
  }
  removeWork();
  process.off('exit', removeWork);
}

if (process.argv.includes('--node-releases')) for (const release of RELEASES) if (!isRunningNode(release)) ensureNodeRelease(release);
