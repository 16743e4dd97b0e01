import { MESH_PRESENCE_STORE } from '../../lib/mesh.constants';
import type { PresenceStore } from '../../lib/state/presence/presence-store';
import { RawClient } from '../support/raw-client';
import { adminRedis, onCluster, startApp, uniquePrefix, type TestApp } from '../support/test-app';

const MEMBERS = 10_000;

/** Calls per command as Redis counts them (standalone only: one server to ask); a script's inner calls count too. */
async function commandStats(redis: ReturnType<typeof adminRedis>): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

function callsBetween(before: Map<string, number>, after: Map<string, number>): string {
  const calls = [...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const).filter(([name, n]) => n > 0 && name !== 'info');
  return calls.map(([name, n]) => `${n} ${name}`).join(', ');
}

/**
 * A room with 10,000 members is read in one store call (one script over the room's two hashes),
 * not one call per member. Members are written through the presence store itself (10,000 real
 * sockets would measure the machine, not the read); the reads go through the server API and a
 * real client's `subscribe-presence`. Figures are printed for the report, never asserted.
 */
describe('presence of a room with 10,000 members', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ mesh: { keyPrefix: uniquePrefix() } });
    t.mesh.trackPresence(/^(big|empty-warm-up)$/);
    const store = t.app.get<PresenceStore>(MESH_PRESENCE_STORE);
    for (let start = 0; start < MEMBERS; start += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, MEMBERS - start) }, (_, i) => {
          const id = `member-${start + i}`;
          return store.enter({ room: 'big', connectionId: id, nodeId: 'elsewhere', secretDigest: 'd', metadataText: JSON.stringify({ name: `user ${start + i}` }) });
        }),
      );
    }
    for (let i = 0; i < MEMBERS; i += 10) await store.setState('big', `member-${i}`, `member-${i}`, JSON.stringify({ typing: i }), 0, true);
  }, 60_000);

  afterAll(() => t.close());

  it('getPresence and subscribe-presence read them all with one Redis call', async () => {
    const redis = adminRedis();
    try {
      await t.mesh.getPresence('empty-warm-up'); // the script's first run loads it (EVALSHA, then EVAL): not what is measured
      const before = onCluster() ? undefined : await commandStats(redis);
      const started = performance.now();
      const presence = await t.mesh.getPresence('big');
      const ms = performance.now() - started;
      // Heartbeats of the node may add a few calls of their own.
      const calls = before && callsBetween(before, await commandStats(redis));
      expect(presence.present).toHaveLength(MEMBERS);
      expect(presence.present).toContainEqual({ id: 'member-42', metadata: { name: 'user 42' } });
      expect(Object.keys(presence.states)).toHaveLength(MEMBERS / 10);

      const client = await RawClient.connect(t.url);
      try {
        const subscribeStarted = performance.now();
        const reply = await client.command('mesh/subscribe-presence', { roomName: 'big' });
        const subscribeMs = performance.now() - subscribeStarted;
        expect(reply.success).toBe(true);
        expect(reply.present).toHaveLength(MEMBERS);
        const bytes = Buffer.byteLength(JSON.stringify(reply));
        process.stdout.write(
          `presence 10,000 members: getPresence ${ms.toFixed(1)} ms, Redis calls during it: ${calls ?? 'n/a (cluster)'}; subscribe-presence reply ${subscribeMs.toFixed(1)} ms, ${bytes} bytes\n`,
        );
      } finally {
        await client.close();
      }
    } finally {
      redis.disconnect();
    }
  });
});
