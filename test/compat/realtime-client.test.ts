import { join } from 'node:path';
import { runScenario as runRealtimeScenario } from './scenario-runner';
import type { TestApp } from '../support/test-app';
import { startApp, uniquePrefix } from '../support/test-app';

const SCRIPT = join(__dirname, 'realtime-scenario.mjs');

/** Runs a scenario of the published @prsm/realtime client in its own process; `onLine` sees each JSON line. */
function runScenario(scenario: string, url: string, onLine?: (line: any) => void | Promise<void>): Promise<any> {
  return runRealtimeScenario(SCRIPT, [scenario, url], onLine);
}

async function realtimeServer(keyPrefix: string, port?: number): Promise<TestApp> {
  const t = await startApp({ port, mesh: { keyPrefix, prefix: 'rt', pingInterval: 100, latencyInterval: 100 } });
  t.mesh.registerCommand('echo', (ctx) => `echo: ${String(ctx.payload)}`);
  t.mesh.registerCommand('throws', () => {
    throw new Error('This is a test error');
  });
  t.mesh.registerCommand('publish', async (ctx) => {
    const { channel, message } = ctx.payload as { channel: string; message: string };
    await t.mesh.publish(channel, message, { history: 10 });
    return { success: true };
  });
  t.mesh.registerCommand('notify-room', async (ctx) => {
    await t.mesh.broadcastRoom((ctx.payload as { roomName: string }).roomName, 'notice', { text: 'hello room' });
    return true;
  });
  t.mesh.exposeChannel(/^chat:.+$/);
  t.mesh.exposeRoom(/^open:.+$/);
  return t;
}

describe('the published @prsm/realtime client against our server (prefix rt)', () => {
  it('connects, runs commands, gets error payloads, channels with history, rooms, pings and latency', async () => {
    const t = await realtimeServer(uniquePrefix());
    try {
      await t.mesh.publish('chat:lobby', 'old-1', { history: 10 });
      await t.mesh.publish('chat:lobby', 'old-2', { history: 10 });
      const r = await runScenario('basics', t.url);
      expect(typeof r.connectionId).toBe('string');
      expect(r.status).toBe(3);
      expect(r.echo).toBe('echo: Hello, World!');
      expect(r.thrown).toEqual({ error: 'This is a test error', code: 'ESERVER', name: 'Error' });
      expect(r.missing).toEqual({ error: 'Command "unknown-command" not found', code: 'ENOTFOUND', name: 'CommandError' });
      expect(r.subscribe).toEqual({ success: true, history: ['old-2', 'old-1'] });
      expect(r.unexposed).toEqual({ success: false, history: [] });
      expect(r.messages).toContain('live');
      expect(r.history).toEqual({ success: true, history: ['live'] });
      expect(r.join).toEqual({ success: true, present: [{ id: r.connectionId }] });
      expect(r.notices).toEqual([{ text: 'hello room' }]);
      expect(r.leave).toEqual({ success: true });
      expect(r.closedRoom).toMatchObject({ success: false });
      expect(r.pings).toBeGreaterThan(2);
      expect(r.latencies.length).toBeGreaterThan(2);
      expect(r.latencies.every((ms: unknown) => typeof ms === 'number')).toBe(true);
      expect(r.statusAfterPings).toBe(3);
      expect(r.metadata).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('reconnects by itself to a restarted node, re-subscribes its channel and gets the next message', async () => {
    const keyPrefix = uniquePrefix();
    let t = await realtimeServer(keyPrefix);
    const port = t.port;
    let finished = false;
    let publishing: Promise<void> | undefined;
    try {
      const result = await runScenario('reconnect', t.url, async (line) => {
        if (line.ready) {
          await t.close();
          t = await realtimeServer(keyPrefix, port);
        }
        if (line.reconnected) {
          // The client re-subscribes right after its reconnect event; publish until it has the message.
          publishing = (async () => {
            for (let i = 0; i < 100 && !finished; i++) {
              await t.mesh.publish('chat:restart', 'after-restart');
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })();
        }
      });
      finished = true;
      await publishing;
      expect(result.secondId).not.toBe(result.firstId);
      expect(result.messages).toContain('after-restart');
    } finally {
      await t.close();
    }
  });

  it('a connection refused at the upgrade makes connect() reject', async () => {
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix(), prefix: 'rt', authenticateConnection: () => null } });
    try {
      expect(await runScenario('refused', t.url)).toEqual({ connected: false, code: 'ECONNECTION', status: 0 });
    } finally {
      await t.close();
    }
  });
});
