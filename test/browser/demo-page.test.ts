import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../support/chromium';
import { NodeProcess } from '../support/node-process';
import { uniquePrefix } from '../support/test-app';

const ARTIFACTS = join(__dirname, '..', '..', 'test-results');
const FAST = { MESH_NODE_HEARTBEAT_INTERVAL: '200', MESH_NODE_TTL: '1500', MESH_PING_INTERVAL: '1000' };

/**
 * The sample app's demo page in headless Chromium, two pages on two nodes: sign in, chat in one
 * channel, see each other join a room, invoke the other page's handler across nodes, and keep
 * receiving after one page's node is killed and started again. A failing step leaves a
 * screenshot of both pages in test-results/.
 */
describe('the demo page, two nodes, two browser pages', () => {
  const keyPrefix = uniquePrefix();
  let browser: Browser;
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;
  let alice: Page;
  let bob: Page;

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([NodeProcess.start({ keyPrefix, env: FAST }), NodeProcess.start({ keyPrefix, env: FAST })]);
    const binary = await findChromium();
    browser = await chromium.launch({ executablePath: binary.executablePath, env: binary.env, args: CHROMIUM_ARGS });
    alice = await browser.newPage();
    bob = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  });

  /** Runs a step; on failure saves what both pages showed. */
  async function step(name: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      mkdirSync(ARTIFACTS, { recursive: true });
      for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
        await page.screenshot({ path: join(ARTIFACTS, `demo-${name}-${who}.png`), fullPage: true }).catch(() => undefined);
      }
      throw error;
    }
  }

  /** Runs in the page: whether the presence list shows exactly these names (sorted, comma-separated). */
  const presenceShows = (names: string) => Array.from(document.querySelectorAll('#presence li'), (item) => item.textContent).sort().join(',') === names;

  const online = (page: Page) => page.waitForSelector('#status[data-state="online"]', { timeout: 15_000 });

  async function signIn(page: Page, userId: string): Promise<void> {
    await page.fill('#user-id', userId);
    await page.click('#login');
    await page.waitForFunction((id) => document.getElementById('identity')?.textContent?.includes(`Signed in as ${id}`), userId, { timeout: 10_000 });
    await online(page);
  }

  it('serves the page with a strict content security policy', async () => {
    const response = await fetch(`http://127.0.0.1:${nodeA.port}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await response.text()).toContain('<script src="/demo.js" defer></script>');
  });

  it('chats, joins, invokes across nodes, edits a shared document, and survives a node restart', async () => {
    await step('connect', async () => {
      await alice.goto(`http://127.0.0.1:${nodeA.port}/`);
      await bob.goto(`http://127.0.0.1:${nodeB.port}/`);
      await Promise.all([online(alice), online(bob)]);
      expect(await alice.textContent('#node')).not.toBe(await bob.textContent('#node'));
    });

    await step('sign-in', async () => {
      await signIn(alice, 'alice');
      await signIn(bob, 'bob');
    });

    await step('room', async () => {
      await alice.click('#join-room');
      await alice.waitForFunction(() => document.getElementById('present')?.textContent === 'you are in the room');
      await bob.click('#join-room');
      await alice.waitForFunction(() => document.getElementById('room-events')?.textContent?.includes('bob joined'));
      // The lobby's presence, watched from both pages: who is here, by user id.
      for (const page of [alice, bob]) await page.waitForFunction(presenceShows, 'alice,bob', { timeout: 5000 });
    });

    await step('chat', async () => {
      await alice.click('#subscribe');
      await bob.click('#subscribe');
      await bob.waitForFunction(() => document.getElementById('chat-error')?.textContent === '');
      await alice.fill('#message', 'hello from alice');
      await alice.click('#send');
      await bob.waitForFunction(() => document.getElementById('messages')?.textContent?.includes('alice: hello from alice'), undefined, { timeout: 5000 });
    });

    await step('invoke', async () => {
      await bob.click('#refresh-clients');
      await bob.waitForSelector('tr[data-client-id="alice"] button.notify');
      await bob.click('tr[data-client-id="alice"] button.notify');
      await bob.waitForSelector('#invoke-result[data-outcome="ok"]', { timeout: 10_000 });
      expect(await bob.textContent('#invoke-result')).toContain('"receivedBy":"alice"');
      await alice.waitForFunction(() => document.getElementById('room-events')?.textContent?.includes('notified: hello from bob'));
      // A client that left after the list was read: its typed error is shown as such.
      const carol = await browser.newPage();
      await carol.goto(`http://127.0.0.1:${nodeA.port}/`);
      await online(carol);
      const carolId = (await carol.textContent('#connection-id'))!;
      await bob.click('#refresh-clients');
      await bob.waitForSelector(`tr[data-client-id="${carolId}"] button.notify`);
      await carol.close();
      await bob.click(`tr[data-client-id="${carolId}"] button.notify`);
      await bob.waitForSelector('#invoke-result[data-outcome="error"]', { timeout: 15_000 });
      expect(await bob.textContent('#invoke-result')).toMatch(/^ECLIENT(NOTFOUND|DISCONNECTED) \(Client(NotFound|Disconnected)Error\): /);
    });

    await step('document', async () => {
      await alice.fill('#doc-text', 'hello from alice');
      await bob.waitForFunction(() => (document.getElementById('doc-text') as HTMLTextAreaElement).value === 'hello from alice', undefined, { timeout: 5000 });
      expect(await bob.textContent('#doc-author')).toBe('alice');
      await bob.waitForFunction(() => document.getElementById('doc-list')?.textContent?.includes('doc:welcome'));
    });

    await step('restart', async () => {
      const bobBefore = await alice.evaluate(() => Array.from(document.querySelectorAll('#presence li')).find((item) => item.textContent === 'bob')?.getAttribute('data-presence-id'));
      expect(bobBefore).toEqual(expect.any(String));
      const port = nodeB.port;
      await nodeB.stop('SIGKILL');
      await bob.waitForSelector('#status[data-state="reconnecting"]', { timeout: 10_000 });
      nodeB = await NodeProcess.start({ keyPrefix, port, env: FAST });
      await online(bob);
      // The channel was renewed by the client; the page joined its room again.
      await alice.fill('#message', 'after the restart');
      await alice.click('#send');
      await bob.waitForFunction(() => document.getElementById('messages')?.textContent?.includes('alice: after the restart'), undefined, { timeout: 10_000 });
      // The document subscription was renewed too: bob's edit reaches alice.
      await bob.fill('#doc-text', 'bob, after the restart');
      await alice.waitForFunction(() => (document.getElementById('doc-text') as HTMLTextAreaElement).value === 'bob, after the restart', undefined, { timeout: 10_000 });
      // Bob's old connection left the lobby's presence with its dead node; he is there once, under his new connection.
      await alice.waitForFunction(
        ({ names, gone }) => Array.from(document.querySelectorAll('#presence li'), (item) => item.textContent).sort().join(',') === names && !document.querySelector(`[data-presence-id="${gone}"]`),
        { names: 'alice,bob', gone: bobBefore },
        { timeout: 10_000 },
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await bob.screenshot({ path: join(ARTIFACTS, 'demo-after-restart-bob.png'), fullPage: true });
    });
  }, 90_000);
});
