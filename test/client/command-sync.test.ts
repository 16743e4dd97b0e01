import { execFile, fork, type ChildProcess } from 'child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';
import {
  MeshClient,
  MeshClientStatus,
  MeshCommandError,
  MeshConnectionLostError,
  MeshResubscribeError,
  MeshTimeoutError,
  MeshUnsupportedError,
} from '../../client';
import { nextEvent } from './support/scripted-server';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');

/** The scripted server runs in a child process: commandSync blocks this thread. */
async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(join(__dirname, 'fixtures', 'sync-server.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number }));
    child.once('error', reject);
  });
  return { url: `ws://127.0.0.1:${port}/mesh`, child };
}

describe('MeshClient.commandSync', () => {
  let server: { url: string; child: ChildProcess };
  let client: MeshClient;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(() => {
    server.child.kill();
  });

  afterEach(async () => {
    await client?.close();
  });

  it('works on a client constructed without options: the first call moves the connection into a worker, and command() uses it too', async () => {
    client = new MeshClient(server.url, { reconnectInterval: 20 });
    await client.connect();
    await client.joinRoom('lobby');
    await client.subscribe('news', () => undefined);
    const before = client.connectionId;
    const events: string[] = [];
    for (const name of ['disconnect', 'connect', 'reconnect']) client.on(name, () => events.push(name));
    const id = client.commandSync('conn-id');
    expect(id).not.toBe(before);
    expect(client.connectionId).toBe(id);
    expect(events).toEqual(['disconnect', 'connect', 'reconnect']);
    // Rooms and channels were renewed on the new connection before the command ran.
    expect(client.commandSync('seen-on-this-connection')).toEqual(['mesh/join-room', 'mesh/subscribe-channel', 'conn-id', 'seen-on-this-connection']);
    await expect(client.command('conn-id')).resolves.toBe(id);
    expect(client.commandSync('echo', 'again')).toBe('again');
    expect(client.connectionId).toBe(id);
  });

  it('renewing rooms in the worker: a refusal drops the room (MeshResubscribeError), an error reply is reported and the room kept', async () => {
    client = new MeshClient(server.url, { reconnectInterval: 20 });
    await client.connect();
    await client.joinRoom('flaky');
    await client.joinRoom('revoked');
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e.detail as Error));
    client.commandSync('echo', 'move');
    expect(errors).toHaveLength(2);
    expect(errors.find((e) => e instanceof MeshCommandError)).toMatchObject({ code: 'EBUSY' });
    expect(errors.find((e) => e instanceof MeshResubscribeError)?.message).toMatch(/revoked/);
  });

  it('refuses with MeshUnsupportedError when the socket comes from the WebSocket option', async () => {
    const { WebSocket } = await import('ws');
    client = new MeshClient(server.url, { WebSocket: WebSocket as never });
    await client.connect();
    expect(() => client.commandSync('echo', 'x')).toThrow(MeshUnsupportedError);
    await expect(client.command('echo', 'still fine')).resolves.toBe('still fine');
  });

  it('blocks the thread until the reply arrives on the same connection', async () => {
    client = new MeshClient(server.url, { syncCommands: true });
    await client.connect();
    let timerFired = false;
    setTimeout(() => (timerFired = true), 0);
    const started = Date.now();
    const result = client.commandSync('slow', { ms: 300, value: 'done' });
    expect(result).toBe('done');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(timerFired).toBe(false);
    // A timer set now runs after the earlier one: by then the blocked one has fired.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(timerFired).toBe(true);
  });

  it('delivers events that arrive meanwhile after it returns', async () => {
    client = new MeshClient(server.url, { syncCommands: true });
    await client.connect();
    const notes: unknown[] = [];
    client.on('note', (e) => notes.push(e.detail));
    expect(client.commandSync('push-then-reply', 'n1')).toBe('replied');
    expect(notes).toEqual([]);
    await new Promise<void>((resolve) => client.once('note', () => resolve()));
    expect(notes).toEqual(['n1']);
  });

  it('resolves error payloads, or throws MeshCommandError with throwOnError', async () => {
    client = new MeshClient(server.url, { syncCommands: true });
    await client.connect();
    expect(client.commandSync('fail')).toEqual({ error: 'boom', code: 'EBOOM', name: 'Error' });
    expect(() => client.commandSync('fail', undefined, { throwOnError: true })).toThrow(MeshCommandError);
  });

  it('throws MeshTimeoutError, and a late reply does not disturb later calls', async () => {
    client = new MeshClient(server.url, { syncCommands: true });
    await client.connect();
    const lateReply = new Promise<void>((resolve) => client.on('message', (e) => (e.detail as { payload?: unknown }).payload === 'late' && resolve()));
    expect(() => client.commandSync('slow', { ms: 300, value: 'late' }, { timeoutMs: 100 })).toThrow(MeshTimeoutError);
    expect(() => client.commandSync('hang', undefined, { timeoutMs: 50 })).toThrow('Command "hang" timed out after 50ms');
    await lateReply;
    expect(client.commandSync('echo', 'next')).toBe('next');
  });

  it('runs async commands, events, channels and reconnect through the worker transport', async () => {
    client = new MeshClient(server.url, { syncCommands: true, reconnectInterval: 20 });
    await client.connect();
    await expect(client.command('echo', 'async')).resolves.toBe('async');
    const news: string[] = [];
    let delivered!: () => void;
    const gotNews = new Promise<void>((resolve) => (delivered = resolve));
    await client.subscribe('news', (m) => {
      news.push(m);
      delivered();
    });
    server.child.send('publish');
    await gotNews;
    expect(news).toEqual(['hello']);

    const reconnected = nextEvent(client, 'reconnect');
    expect(() => client.commandSync('drop')).toThrow(MeshConnectionLostError);
    await reconnected;
    expect(client.status).toBe(MeshClientStatus.ONLINE);
    expect(client.commandSync('echo', 'after reconnect')).toBe('after reconnect');
  });

  it('works from compiled JavaScript (the dist layout), not only from the .ts sources', async () => {
    const cache = join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const outDir = mkdtempSync(join(cache, 'mesh-client-dist-'));
    try {
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      await run(process.execPath, [tsc, '--outDir', outDir, '--rootDir', root, '--module', 'commonjs', '--target', 'ES2022',
        '--lib', 'ES2022,DOM', '--types', 'node', '--strict', '--skipLibCheck', join(root, 'client', 'index.ts')], { cwd: root });
      const script = `
        const { MeshClient } = require(${JSON.stringify(join(outDir, 'client'))});
        (async () => {
          const client = new MeshClient(${JSON.stringify(server.url)}, { syncCommands: true });
          await client.connect();
          const reply = client.commandSync('echo', 'from dist');
          await client.close();
          console.log(JSON.stringify(reply));
        })().catch((err) => { console.error(err); process.exit(1); });`;
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: root, timeout: 10000 });
      expect(JSON.parse(stdout.trim())).toBe('from dist');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60000);
});
