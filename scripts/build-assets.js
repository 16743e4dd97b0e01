'use strict';
// Part of `npm run build`, after tsc: what tsc does not produce. The Redis store's Lua scripts are
// copied beside the compiled code (dist/lib/state/redis/lua/), and the sample app's demo page is
// bundled for the browser into dist/sample-app/demo/ (demo.js, plus index.html and demo.css).
const { build } = require('esbuild');
const { copyFileSync, mkdirSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const source = join(root, 'sample-app', 'demo');
const out = join(root, 'dist', 'sample-app', 'demo');

function copyLua() {
  const from = join(root, 'lib', 'state', 'redis', 'lua');
  const to = join(root, 'dist', 'lib', 'state', 'redis', 'lua');
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from).filter((f) => f.endsWith('.lua'))) copyFileSync(join(from, file), join(to, file));
}

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

async function bundleDemo() {
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

async function main() {
  copyLua();
  await bundleDemo();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
