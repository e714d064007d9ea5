#!/usr/bin/env node
// `npm run bundle`: one self-contained CommonJS file per agent in deploy/dist,
// runnable as `node FILE` with no node_modules beside it (a device, a guest
// image, an initramfs). Built from the compiled dist/ so it runs exactly the
// code the tests run. Lazy `import()`s stay lazy: esbuild defers those
// modules' evaluation until first use, so --help still skips execa and winston.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'deploy/dist');

for (const agent of ['host-agent', 'guest-agent']) {
  const outfile = join(outdir, `${agent}.cjs`);
  await build({
    entryPoints: [join(root, agent, 'dist/cli.js')],
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
  console.log(`${outfile}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
}
