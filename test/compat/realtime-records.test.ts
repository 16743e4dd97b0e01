import { join } from 'node:path';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { runScenario } from './scenario-runner';
import { adminRedis, startApp, uniquePrefix, type TestApp } from '../support/test-app';

const SCRIPT = join(__dirname, 'realtime-records-scenario.mjs');

/** A node as @prsm/realtime apps configure theirs: prefix `rt`, `doc:*` readable, `note:*` writable, collection `notes`. */
async function realtimeNode(keyPrefix: string): Promise<TestApp> {
  const t = await startApp({ mesh: { keyPrefix, prefix: 'rt' } });
  t.mesh.exposeRecord(/^doc:/);
  t.mesh.exposeWritableRecord(/^note:/);
  t.mesh.exposeCollection('notes', () => t.mesh.listRecordIds('note:'));
  t.mesh.registerCommand('drop-me', (ctx) => {
    setImmediate(() => void t.mesh.disconnect(ctx.connection)); // after the reply went out
    return true;
  });
  return t;
}

describe('the published @prsm/realtime client: records, transactions and collections across two of our nodes', () => {
  let keyPrefix: string;
  let a: TestApp;
  let b: TestApp;

  beforeEach(async () => {
    keyPrefix = uniquePrefix();
    [a, b] = await Promise.all([realtimeNode(keyPrefix), realtimeNode(keyPrefix)]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('full and patch subscribers, concurrent writes from both nodes, a gap healed, client writes and transactions', async () => {
    const r = await runScenario(SCRIPT, ['records', a.url, b.url], async ({ step }) => {
      if (step === 'burst') {
        const writes = [];
        for (let i = 0; i < 20; i++) writes.push(a.mesh.writeRecord('doc:1', { [`a${i}`]: i }, { strategy: 'merge' }), b.mesh.writeRecord('doc:1', { [`b${i}`]: i }, { strategy: 'merge' }));
        await Promise.all(writes);
      }
      if (step === 'gap') {
        const admin = adminRedis();
        try {
          await admin.hset(new RedisKeyLayout(keyPrefix).record('doc:1'), 'value', '{"gap":true}', 'version', 50);
        } finally {
          admin.disconnect();
        }
        await a.mesh.writeRecord('doc:1', { gap: true, after: 1 });
      }
    });
    expect(r.subscribeFull).toEqual({ success: true, record: null, version: 0 });
    expect(r.subscribePatch).toEqual({ success: true, record: null, version: 0 });
    expect(r.unexposed).toEqual({ success: false, record: null, version: 0 });
    const one = Array.from({ length: 41 }, (_, i) => i);
    expect(r.patchVersions).toEqual(one);
    expect(r.fullVersions).toEqual(one);
    expect(Object.keys(r.lastFull)).toHaveLength(40);
    expect(r.patchKinds).toEqual(['patch']);
    expect(r.healed).toEqual({ recordId: 'doc:1', full: { gap: true, after: 1 }, version: 51 });
    expect(r.write).toBe(true);
    expect(r.refusedWrite).toBe(false);
    expect(r.notes.map((u: any) => u.full)).toEqual([null, { text: 'from a client' }]);
    expect(r.transaction.results).toEqual([
      { op: 'write', recordId: 'note:2', success: true, version: 1 },
      { op: 'delete', recordId: 'note:1', success: true, version: 2 },
    ]);
    expect(r.refusedTransaction).toMatchObject({ code: 'ETXN', name: 'TransactionError' });
    expect(r.refusedTransaction.message).toContain('not writable');
    expect(r.deleted).toEqual({ recordId: 'note:1', deleted: true, version: 2 });
  });

  it('collections: the first diff resets, then added, changed and removed; all renewed after a reconnect', async () => {
    await a.mesh.writeRecord('note:a', { text: 'A' });
    const r = await runScenario(SCRIPT, ['collections', a.url, b.url], async ({ step }) => {
      if (step === 'add') await a.mesh.writeRecord('note:b', { text: 'B' });
      if (step === 'change') await a.mesh.writeRecord('note:a', { text: 'A2' });
      if (step === 'remove') await a.mesh.deleteRecord('note:b');
      if (step === 'after-reconnect') {
        await a.mesh.writeRecord('note:y', { text: 'Y' });
        await a.mesh.writeRecord('note:x', { text: 'X' });
      }
    });
    expect(r.subscribe).toEqual({ success: true, ids: ['note:a'], records: [{ id: 'note:a', record: { text: 'A' } }], version: 1 });
    expect(r.unexposed).toEqual({ success: false, ids: [], records: [], version: 0 });
    expect(r.diffs[0]).toEqual({ added: [{ id: 'note:a', record: { text: 'A' } }], removed: [], changed: [], version: 1, reset: true });
    expect(r.diffs).toContainEqual({ added: [{ id: 'note:b', record: { text: 'B', id: 'note:b' } }], removed: [], changed: [], version: 2 });
    expect(r.diffs).toContainEqual({ added: [], removed: [], changed: [{ id: 'note:a', record: { text: 'A2', id: 'note:a' } }], version: 2 });
    expect(r.diffs).toContainEqual({ added: [], removed: [{ id: 'note:b', record: { id: 'note:b' } }], changed: [], version: 3 });
    expect(r.afterReconnect.diffs.some((d: any) => d.added.some((m: any) => m.id === 'note:y'))).toBe(true);
    expect(r.afterReconnect.updates.at(-1)).toMatchObject({ recordId: 'note:x', full: { text: 'X' } });
  });
});
