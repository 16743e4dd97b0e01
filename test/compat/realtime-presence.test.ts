import { join } from 'node:path';
import { runScenario as runRealtimeScenario } from './scenario-runner';
import { startApp, uniquePrefix, type TestApp } from '../support/test-app';

const SCRIPT = join(__dirname, 'realtime-presence-scenario.mjs');

/** Runs a presence scenario of the published @prsm/realtime client against two nodes; `onLine` sees each JSON line. */
function runScenario(scenario: string, urls: [string, string], onLine?: (line: any) => void | Promise<void>): Promise<any> {
  return runRealtimeScenario(SCRIPT, [scenario, ...urls], onLine);
}

async function realtimeNode(keyPrefix: string): Promise<TestApp> {
  const t = await startApp({ mesh: { keyPrefix, prefix: 'rt' } });
  t.mesh.exposeRoom(/^(lobby|open):.+$/);
  // The published client does not take its presence over after a reconnect: ttl 0 keeps the test short.
  t.mesh.trackPresence(/^lobby:.+$/, { ttl: 0 });
  t.mesh.trackPresence(/^vip:.+$/, () => false);
  return t;
}

describe('presence with the published @prsm/realtime client, across two nodes (prefix rt)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeEach(async () => {
    const keyPrefix = uniquePrefix();
    a = await realtimeNode(keyPrefix);
    b = await realtimeNode(keyPrefix);
  });

  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('join, state (plain, silent, expiring, cleared) and leave on node B reach a subscriber on node A, in wire order; refusals', async () => {
    const r = await runScenario('presence', [a.url, b.url]);
    const at = { timestamp: expect.any(Number), roomName: 'lobby:rt' };
    expect(r.join).toEqual({ success: true, present: [{ id: r.watcherId }] });
    expect(r.memberJoin.success).toBe(true);
    expect([r.publish, r.silent, r.expiring]).toEqual([true, true, true]);
    expect(r.afterSilent).toEqual({ success: true, present: expect.arrayContaining([r.watcherId, r.memberId]), states: { [r.memberId]: { hidden: true } } });
    expect(r.clear).toBe(true);
    expect(r.refusals).toEqual({
      guarded: { success: false, present: [], states: {} },
      untracked: { success: false, present: [], states: {} },
      notMember: false,
      falsy: false,
      untrackedState: { success: false, present: [], states: {} },
    });
    expect(r.subscribeAgain).toEqual({ success: true, present: expect.arrayContaining([{ id: r.watcherId }, { id: r.memberId }]), states: {} });
    expect(r.unsubscribe).toBe(true);
    // The first update is the subscribe reply the client hands to its callback (the watcher itself is present).
    expect(r.updates[0]).toEqual({ success: true, present: [{ id: r.watcherId }], states: {} });
    expect(r.updates.slice(1)).toEqual([
      { type: 'join', connectionId: r.memberId, ...at },
      { type: 'state', connectionId: r.memberId, state: { cursor: { x: 100, y: 5 } }, ...at },
      { type: 'state', connectionId: r.memberId, state: { brief: true }, ...at },
      { type: 'state', connectionId: r.memberId, state: null, ...at },
      { type: 'state', connectionId: r.memberId, state: { again: true }, ...at },
      { type: 'state', connectionId: r.memberId, state: null, ...at },
      { type: 'leave', connectionId: r.memberId, ...at },
      { type: 'join', connectionId: r.closerId, ...at },
      { type: 'leave', connectionId: r.closerId, ...at },
    ]);
    // Each update arrives once, as rt/presence-update: the anchor's second copy as a subscription message is not sent.
    expect(r.watcherCommands).toContain('rt/presence-update');
    expect(r.watcherCommands).not.toContain('rt/subscription-message');
  });

  it('after a reconnect the client is back in the room and its presence: get-presence-state refreshes it and new joins reach it', async () => {
    const r = await runScenario('reconnect', [a.url, b.url], async (line) => {
      if (line.ready) await a.mesh.disconnect(line.firstId, 4000);
    });
    expect(r.secondId).not.toBe(r.firstId);
    expect(r.inits.at(-1)).toEqual({ present: [r.secondId], states: {} });
    expect(r.updates.filter((u: any) => u.type === 'join').map((u: any) => u.connectionId)).toContain(r.memberId);
    expect(r.updates.filter((u: any) => u.type === 'leave').map((u: any) => u.connectionId)).not.toContain(r.secondId);
  });
});
