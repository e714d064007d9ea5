#!/usr/bin/env node
// `npm run bundle`: one self-contained CommonJS file per agent in deploy/dist,
// runnable as `node FILE` with no node_modules beside it (a device, a guest
// image, an initramfs). Built from the compiled dist/ so it runs exactly the
// code the tests run. Lazy `import()`s stay lazy: esbuild defers those
// modules' evaluation until first use, so --help still skips execa and winston.
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'deploy/dist');

// The CNI plugin is named by the runtime's "type": install it as /opt/cni/bin/guestnet.
const BUNDLES = [
  ['host-agent/dist/cli.js', 'host-agent.cjs'],
  ['guest-agent/dist/cli.js', 'guest-agent.cjs'],
  ['host-agent/dist/cni/main.js', 'guestnet'],
];

for (const [entry, name] of BUNDLES) {
  const outfile = join(outdir, name);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    legalComments: 'eof',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  console.log(`${outfile}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
}
