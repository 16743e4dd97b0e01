'use strict';
// Part of `npm run build`: bundles the sample app's demo page for the browser into
// dist/sample-app/demo/ (demo.js, plus index.html and demo.css copied as they are).
const { build } = require('esbuild');
const { copyFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const source = join(root, 'sample-app', 'demo');
const out = join(root, 'dist', 'sample-app', 'demo');

/**
 * The page imports the client from its sources; in a browser the Node-only runtime is replaced
 * by its stub, as the package's `browser` field does for apps that import the built package.
 */
const browserRuntime = {
  name: 'browser-runtime',
  setup(b) {
    b.onResolve({ filter: /\/node-runtime$/ }, (args) => ({ path: join(args.resolveDir, `${args.path}.browser.ts`) }));
  },
};

async function main() {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(source, 'page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    outfile: join(out, 'demo.js'),
    plugins: [browserRuntime],
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'demo.css']) copyFileSync(join(source, file), join(out, file));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
