import { build } from 'esbuild';
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');

/** What the bundled script does: async and blocking commands, on a default client and a worker-thread one. */
const ENTRY = `
const { MeshClient } = require(${JSON.stringify(join(root, 'dist', 'client'))});
(async () => {
  const url = process.argv[2];
  const client = new MeshClient(url);
  await client.connect();
  const asyncReply = await client.command('echo', 'async');
  const syncReply = client.commandSync('echo', 'sync');
  const sameConnection = (await client.command('conn-id')) === client.connectionId;
  await client.close();
  const worker = new MeshClient(url, { syncCommands: true });
  await worker.connect();
  const fromWorker = worker.commandSync('echo', 'worker');
  await worker.close();
  console.log(JSON.stringify({ asyncReply, syncReply, sameConnection, fromWorker }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

/**
 * The client bundled for Node with esbuild, as apps ship it: with `ws` left external (resolved from
 * node_modules at run time) and with `ws` inside the bundle, run from a folder with no
 * node_modules at all (the socket worker then uses Node's own WebSocket).
 */
describe('MeshClient bundled for Node with esbuild', () => {
  let server: ChildProcess;
  let url: string;
  const folders: string[] = [];

  beforeAll(async () => {
    server = fork(join(__dirname, 'fixtures', 'sync-server.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { port } = await new Promise<{ port: number }>((resolve) => server.once('message', (m) => resolve(m as { port: number })));
    url = `ws://127.0.0.1:${port}/mesh`;
  });

  afterAll(() => {
    server.kill();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  async function bundleAndRun(folder: string, external: string[]): Promise<unknown> {
    folders.push(folder);
    const entry = join(folder, 'entry.js');
    writeFileSync(entry, ENTRY);
    const outfile = join(folder, 'bundle.js');
    await build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', external, outfile, logLevel: 'silent' });
    const { stdout } = await run(process.execPath, [outfile, url], { cwd: folder, timeout: 15_000 });
    return JSON.parse(stdout.trim());
  }

  const expected = { asyncReply: 'async', syncReply: 'sync', sameConnection: true, fromWorker: 'worker' };

  it('with --external:ws', async () => {
    const cache = join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    expect(await bundleAndRun(mkdtempSync(join(cache, 'mesh-bundle-')), ['ws'])).toEqual(expected);
  }, 30_000);

  it('with ws bundled in, and no node_modules anywhere near', async () => {
    expect(await bundleAndRun(mkdtempSync(join(tmpdir(), 'mesh-bundle-')), [])).toEqual(expected);
  }, 30_000);
});
