// The Node.js releases guestnet supports and `npm test` runs on: the current
// LTS runs the whole suite, the others the tests that differ by release (the
// unit tests, the deploy tests, the demo). A release whose major is the node
// running this script uses that node; the others are the exact versions
// pinned here, fetched from the npm registry (node-linux-<arch>, whose
// package/bin/node is the official build) by `node scripts/ensure.mjs
// --node-releases`. Raising a pin: the version and the integrity that
// `npm view node-linux-<arch>@<version> dist.integrity` prints.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const RELEASES = [
  {
    major: 24,
    version: '24.22.3',
    integrity: {
      x64: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
      arm64: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
    },
  },
  {
    major: 22,
    version: '22.23.5',
    integrity: {
      x64: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
      arm64: 'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
    },
  },
  {
    major: 20,
    version: '20.20.2',
    integrity: {
      x64: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
      arm64: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
    },
  },
];

/** The release that runs the whole suite: the current LTS. */
export const MAIN_MAJOR = 24;

/** Where ensure.mjs keeps the fetched releases (git ignores it). */
export const CACHE_DIR = join(root, '.cache/node');

export const isRunningNode = (release) => Number(process.versions.node.split('.')[0]) === release.major;

/** The directory a fetched release lives in: <dir>/bin/node. */
export const releaseDir = (release) => join(CACHE_DIR, `v${release.version}-linux-${process.arch}`);

/** The exact version that runs `release`. */
export const versionOf = (release) => (isRunningNode(release) ? process.versions.node : release.version);

/** The node binary that runs `release`: this very node for its own major, else the fetched one. */
export const nodeOf = (release) => (isRunningNode(release) ? process.execPath : join(releaseDir(release), 'bin/node'));
