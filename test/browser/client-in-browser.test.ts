import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium';
import { startApp, uniquePrefix, type TestApp } from '../support/test-app';

/**
 * The client bundled for the browser (no Node modules in it) and run in headless Chromium against a
 * real server: the browser's own WebSocket, events with `detail`, channels, and commandSync's error.
 */
describe('MeshClient in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let bundle: string;
  let inputs: string[];
  let page: Server;
  let pageUrl: string;

  beforeAll(async () => {
    // The built package, as an app's bundler sees it: its `browser` field swaps the Node-only runtime out.
    const result = await build({
      entryPoints: [join(__dirname, '..', '..', 'dist', 'client', 'index.js')],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'MeshClientLib',
      platform: 'browser',
      target: 'es2020',
      logLevel: 'silent',
      metafile: true,
    });
    bundle = result.outputFiles[0].text;
    inputs = Object.keys(result.metafile.inputs);
    // The page is served from loopback too, as an app would serve its own front end.
    page = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>mesh</title><script>${bundle.replace(/<\/script/gi, '<\\/script')}</script>`);
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    // The page comes from another port, so another origin: the endpoint must allow it by name.
    t = await startApp({ mesh: { keyPrefix: uniquePrefix(), allowedOrigins: [new URL(pageUrl).origin] } });
    t.mesh.registerCommand('echo', (ctx) => `echo: ${String(ctx.payload)}`);
    t.mesh.registerCommand('shout', async (ctx) => {
      await t.mesh.broadcast('announcement', { text: String(ctx.payload).toUpperCase() });
      return { sent: true };
    });
    t.mesh.exposeChannel('news');
    const binary = await findChromium();
    browser = await chromium.launch({ executablePath: binary.executablePath, env: binary.env, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (page) await new Promise((resolve) => page.close(resolve));
  });

  it('the browser bundle is the client, the protocol and fast-json-patch (records in patch mode) only: no ws, no worker transport, no Nest, no Node modules', () => {
    const allowed = (file: string) => file.startsWith('dist/client/') || file.startsWith('dist/lib/protocol/') || file.startsWith('node_modules/fast-json-patch/');
    expect(inputs.filter((file) => !allowed(file))).toEqual([]);
    expect(inputs).toContain('dist/client/mesh-client.js');
    expect(inputs).toContain('dist/client/transport/node-runtime.browser.js');
    expect(inputs.filter((file) => /worker|node-runtime\.js/.test(file))).toEqual([]);
    expect(bundle).not.toMatch(/require\("(node:)?(worker_threads|ws)"\)/);
  });

  it('connects with the browser WebSocket, runs commands, receives events and channel messages', async () => {
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      const publish = () => t.mesh.publish('news', 'breaking', { history: 5 });
      const result = await tab.evaluate(async (url) => {
        const { MeshClient } = (window as unknown as { MeshClientLib: typeof import('../../client') }).MeshClientLib;
        const client = new MeshClient(url);
        await client.connect();
        const announcements: unknown[] = [];
        client.on('announcement', (e) => announcements.push(e.detail));
        const echo = await client.command('echo', 'from the browser');
        const missing = await client.command('nope');
        const shout = await client.command('shout', 'hey');
        let syncError = '';
        try {
          client.commandSync('echo', 'x');
        } catch (error) {
          syncError = (error as Error).message;
        }
        const messages: string[] = [];
        const subscribed = await client.subscribe('news', (m) => messages.push(m), { historyLimit: 5 });
        (window as unknown as { meshState: unknown }).meshState = { messages };
        return { id: client.connectionId, echo, missing, shout, announcements, syncError, subscribed, usesNative: typeof WebSocket === 'function' };
      }, t.url);
      expect(result.echo).toBe('echo: from the browser');
      expect(result.missing).toEqual({ error: 'Command "nope" not found', code: 'ENOTFOUND', name: 'CommandError' });
      expect(result.shout).toEqual({ sent: true });
      expect(result.announcements).toEqual([{ text: 'HEY' }]);
      expect(result.syncError).toMatch(/command\(/);
      expect(result.subscribed).toEqual({ success: true, history: [] });
      expect(result.usesNative).toBe(true);
      expect(t.mesh.getConnection(result.id as string)).toBeDefined();

      await publish();
      await tab.waitForFunction(() => ((window as unknown as { meshState: { messages: string[] } }).meshState.messages.length === 1), undefined, { timeout: 5000 });
      expect(await tab.evaluate(() => (window as unknown as { meshState: { messages: string[] } }).meshState.messages)).toEqual(['breaking']);
    } finally {
      await tab.close();
    }
  });
});
