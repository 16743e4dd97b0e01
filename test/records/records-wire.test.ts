import { RawClient } from '../support/raw-client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { adminRedis, killSubscriptions, onCluster, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Two nodes on one store; records `doc:*` readable by all, `note:*` writable by all. */
async function twoNodes(keyPrefix = uniquePrefix()): Promise<[TestApp, TestApp]> {
  const nodes = await Promise.all([startApp({ mesh: { keyPrefix, prefix: 'rt' } }), startApp({ mesh: { keyPrefix, prefix: 'rt', maxRecordBytes: 2000 } })]);
  for (const t of nodes) {
    t.mesh.exposeRecord(/^doc:/);
    t.mesh.exposeWritableRecord(/^note:/);
  }
  return nodes;
}

const updates = (client: RawClient, recordId: string) => client.frames.filter((f) => f.command === 'rt/record-update' && (f.payload as any).recordId === recordId).map((f) => f.payload as any);

describe('records on the wire, across two nodes', () => {
  let a: TestApp;
  let b: TestApp;
  let keyPrefix: string;
  const clients: RawClient[] = [];
  const connect = async (t: TestApp) => {
    const client = await RawClient.connect(t.url, { prefix: 'rt' });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    keyPrefix = uniquePrefix();
    [a, b] = await twoNodes(keyPrefix);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all([a.close(), b.close()]);
  });

  it('pushes full values and JSON Patches, in version order, to subscribers on another node', async () => {
    const full = await connect(b);
    const patch = await connect(b);
    expect(await full.command('rt/subscribe-record', { recordId: 'doc:1', mode: 'full' })).toEqual({ success: true, record: null, version: 0 });
    expect(await patch.command('rt/subscribe-record', { recordId: 'doc:1', mode: 'patch' })).toEqual({ success: true, record: null, version: 0 });
    expect(await a.mesh.writeRecord('doc:1', { title: 'one', count: 1 })).toBe(1);
    expect(await a.mesh.writeRecord('doc:1', { count: 2 }, { strategy: 'merge' })).toBe(2);
    expect(await a.mesh.writeRecord('doc:1', { title: 'one', count: 2 })).toBe(2); // no change: no version
    await waitFor(() => updates(patch, 'doc:1').length === 2 && updates(full, 'doc:1').length === 2, 5000, 'updates');
    expect(updates(full, 'doc:1')).toEqual([
      { recordId: 'doc:1', full: { title: 'one', count: 1 }, version: 1 },
      { recordId: 'doc:1', full: { title: 'one', count: 2 }, version: 2 },
    ]);
    expect(updates(patch, 'doc:1')).toEqual([
      { recordId: 'doc:1', patch: [{ op: 'replace', path: '', value: { title: 'one', count: 1 } }], version: 1 },
      { recordId: 'doc:1', patch: [{ op: 'replace', path: '/count', value: 2 }], version: 2 },
    ]);
    expect(await b.mesh.getRecordWithVersion('doc:1')).toEqual({ value: { title: 'one', count: 2 }, version: 2 });
  });

  it('writes from both nodes at once are atomic: versions go up by one, none repeated or skipped', async () => {
    const watcher = await connect(b);
    await watcher.command('rt/subscribe-record', { recordId: 'doc:hot', mode: 'patch' });
    const writes = [];
    for (let i = 0; i < 40; i++) writes.push(a.mesh.writeRecord('doc:hot', { [`a${i}`]: i }, { strategy: 'merge' }), b.mesh.writeRecord('doc:hot', { [`b${i}`]: i }, { strategy: 'merge' }));
    const versions = await Promise.all(writes);
    expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    await waitFor(() => updates(watcher, 'doc:hot').length === 80, 10_000, '80 updates');
    expect(updates(watcher, 'doc:hot').map((u) => u.version)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    const final = (await a.mesh.getRecord('doc:hot')) as Record<string, number>;
    expect(Object.keys(final)).toHaveLength(80);
  });

  it('a subscribe during a stream of writes: its first update is the version after its reply, then every one', async () => {
    const watcher = await connect(b);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 500; i++) await a.mesh.writeRecord('doc:stream', { i });
    })();
    await waitFor(async () => ((await a.mesh.getRecordWithVersion('doc:stream')).version > 5 ? true : undefined), 5000, 'some writes');
    const from = watcher.frames.length;
    const reply = await watcher.command('rt/subscribe-record', { recordId: 'doc:stream', mode: 'patch' });
    const replyIndex = watcher.frames.findIndex((f, i) => i >= from && f.id !== undefined);
    await waitFor(() => updates(watcher, 'doc:stream').length >= 5, 5000, 'updates after subscribe');
    writing = false;
    await writer;
    const after = watcher.frames.slice(from);
    const pushes = after.filter((f) => f.command === 'rt/record-update');
    expect(after.findIndex((f) => f.command === 'rt/record-update')).toBeGreaterThan(replyIndex - from);
    expect(pushes.map((f) => (f.payload as any).version)).toEqual(pushes.map((_, i) => reply.version + 1 + i));
  });

  it('a node queues at most 1,000 writes to one record; the next is refused with ELIMIT, and the queued ones all commit', async () => {
    const writes = Array.from({ length: 1001 }, (_, i) => a.mesh.writeRecord('doc:queued', { i }));
    const outcomes = await Promise.allSettled(writes);
    const refused = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    expect(refused).toHaveLength(1);
    expect(refused[0].reason).toMatchObject({ code: 'ELIMIT' });
    expect(outcomes.indexOf(refused[0])).toBe(1000);
    expect((await b.mesh.getRecordWithVersion('doc:queued')).version).toBe(1000);
    expect(await a.mesh.writeRecord('doc:queued', { i: 'after' })).toBe(1001);
  });

  it('client writes: only to writable records, within maxRecordBytes, with a clear error otherwise', async () => {
    const writer = await connect(b);
    const reader = await connect(a);
    await reader.command('rt/subscribe-record', { recordId: 'note:x', mode: 'full' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'note:x', newValue: { text: 'hi' } })).toEqual({ success: true, version: 1 });
    await waitFor(() => updates(reader, 'note:x').length === 1, 5000, 'the client write reaches a reader on the other node');
    expect(await writer.command('rt/publish-record-update', { recordId: 'doc:1', newValue: { text: 'no' } })).toMatchObject({ code: 'EFORBIDDEN', error: 'Record "doc:1" is not writable by this connection' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'secret', newValue: 1 })).toMatchObject({ code: 'EFORBIDDEN' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'note:x', newValue: 'y'.repeat(3000) })).toMatchObject({ code: 'ELIMIT' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'note:x' })).toMatchObject({ code: 'EINVALID' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'note:x', newValue: 1, options: { strategy: 'evil' } })).toMatchObject({ code: 'EINVALID' });
    expect(await writer.command('rt/publish-record-update', { recordId: { $ne: 1 }, newValue: 1 })).toMatchObject({ code: 'EINVALID' });
    expect(await writer.command('rt/publish-record-update', { recordId: 'note:p', newValue: JSON.parse('{"__proto__":{"polluted":true},"ok":1}') })).toEqual({ success: true, version: 1 });
    expect(await a.mesh.getRecord('note:p')).toEqual({ ok: 1 });
    expect(({} as any).polluted).toBeUndefined();
    // Nothing the refused writes named was written.
    expect(await a.mesh.getRecordWithVersion('doc:1')).toEqual({ value: null, version: 0 });
    expect(await a.mesh.getRecordWithVersion('note:x')).toEqual({ value: { text: 'hi' }, version: 1 });
  });

  it('refuses unexposed records, bad modes and names, and more subscriptions than allowed', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix, prefix: 'rt', maxRecordsPerConnection: 2 } });
    try {
      t.mesh.exposeRecord(/^doc:/, (_c, id) => id !== 'doc:private');
      const c = await RawClient.connect(t.url, { prefix: 'rt' });
      clients.push(c);
      expect(await c.command('rt/subscribe-record', { recordId: 'secret', mode: 'full' })).toEqual({ success: false, record: null, version: 0 });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:private' })).toEqual({ success: false, record: null, version: 0 });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:1', mode: 'diff' })).toMatchObject({ code: 'EINVALID' });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:' + 'x'.repeat(300) })).toEqual({ success: false, record: null, version: 0 });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:1' })).toMatchObject({ success: true });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:2' })).toMatchObject({ success: true });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:1', mode: 'patch' })).toMatchObject({ success: true });
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:3' })).toMatchObject({ code: 'ELIMIT' });
      expect(await c.command('rt/unsubscribe-record', { recordId: 'doc:2' })).toBe(true);
      expect(await c.command('rt/unsubscribe-record', { recordId: 'doc:2' })).toBe(false);
      expect(await c.command('rt/subscribe-record', { recordId: 'doc:3' })).toMatchObject({ success: true });
    } finally {
      await t.close();
    }
  });

  it('a delete takes the next version, is pushed and ends the subscription; a record written again goes on from there (versions never repeat)', async () => {
    const watcher = await connect(b);
    await a.mesh.writeRecord('doc:gone', { v: 1 });
    await a.mesh.writeRecord('doc:gone', { v: 2 });
    expect(await watcher.command('rt/subscribe-record', { recordId: 'doc:gone', mode: 'full' })).toEqual({ success: true, record: { v: 2 }, version: 2 });
    expect(await a.mesh.deleteRecord('doc:gone')).toBe(true);
    expect(await a.mesh.deleteRecord('doc:gone')).toBe(false);
    await watcher.waitFor((f) => f.command === 'rt/record-deleted');
    expect(watcher.frames.filter((f) => f.command === 'rt/record-deleted').map((f) => f.payload)).toEqual([{ recordId: 'doc:gone', version: 3 }]);
    expect(await a.mesh.getRecordWithVersion('doc:gone')).toEqual({ value: null, version: 3 });
    expect(await a.mesh.listRecordIds('doc:gone')).toEqual([]);
    expect(await a.mesh.writeRecord('doc:gone', { v: 3 })).toBe(4);
    expect(await a.mesh.listRecordIds('doc:gone')).toEqual(['doc:gone']);
    const marker = await connect(b);
    await marker.command('rt/subscribe-record', { recordId: 'doc:gone' });
    await a.mesh.writeRecord('doc:gone', { v: 4 });
    await waitFor(() => updates(marker, 'doc:gone').length === 1, 5000, 'the marker subscriber gets the next write');
    expect(updates(watcher, 'doc:gone')).toEqual([]);
  });

  it('transactions apply all or nothing and report versions; a record the client may not write refuses the whole batch', async () => {
    const client = await connect(a);
    const watcher = await connect(b);
    await watcher.command('rt/subscribe-record', { recordId: 'note:t1', mode: 'full' });
    await a.mesh.writeRecord('note:t2', { n: 1 });
    const done = await client.command('rt/transaction', {
      operations: [
        { op: 'write', recordId: 'note:t1', value: { a: 1 } },
        { op: 'write', recordId: 'note:t1', value: { b: 2 }, options: { strategy: 'merge' } },
        { op: 'delete', recordId: 'note:t2' },
        { op: 'delete', recordId: 'note:missing' },
      ],
    });
    expect(typeof done.id).toBe('string');
    expect(done.results).toEqual([
      { op: 'write', recordId: 'note:t1', success: true, version: 1 },
      { op: 'write', recordId: 'note:t1', success: true, version: 1 },
      { op: 'delete', recordId: 'note:t2', success: true, version: 2 },
      { op: 'delete', recordId: 'note:missing', success: true, version: 0 },
    ]);
    await waitFor(() => updates(watcher, 'note:t1').length === 1, 5000, 'one update for the two writes');
    expect(updates(watcher, 'note:t1')).toEqual([{ recordId: 'note:t1', full: { a: 1, b: 2 }, version: 1 }]);
    expect(await a.mesh.getRecord('note:t2')).toBeNull();

    const refused = await client.command('rt/transaction', { operations: [{ op: 'write', recordId: 'note:t1', value: 'x' }, { op: 'write', recordId: 'doc:1', value: 'x' }] });
    expect(refused).toMatchObject({ code: 'ETXN', name: 'TransactionError' });
    expect(refused.error).toContain('not writable');
    expect(await a.mesh.getRecordWithVersion('note:t1')).toEqual({ value: { a: 1, b: 2 }, version: 1 });
    for (const bad of [{}, { operations: [] }, { operations: 'x' }, { operations: [{ op: 'drop', recordId: 'note:a' }] }, { operations: [{ op: 'write', recordId: 'note:a' }] }]) {
      expect(await client.command('rt/transaction', bad)).toMatchObject({ code: 'ETXN' });
    }
    const tooMany = Array.from({ length: 65 }, (_, i) => ({ op: 'delete', recordId: `note:${i}` }));
    expect(await client.command('rt/transaction', { operations: tooMany })).toMatchObject({ code: 'ETXN' });
  });

  it('a transaction is one atomic step per slot: everywhere on one Redis; on a cluster, records sharing a hash tag', async () => {
    const client = await connect(b); // node b: maxRecordBytes 2000
    const big = 'x'.repeat(3000);
    const reply = await client.command('rt/transaction', {
      operations: [
        { op: 'write', recordId: 'note:{team}:a', value: 'fits' },
        { op: 'write', recordId: 'note:{team}:b', value: big },
        { op: 'write', recordId: 'note:elsewhere', value: 'fits' },
      ],
    });
    const written = async (id: string) => (await a.mesh.getRecordWithVersion(id)).version;
    if (!onCluster()) {
      expect(reply).toMatchObject({ code: 'ELIMIT', name: 'TransactionError' });
      expect(reply.error).toContain('nothing was written');
      expect([await written('note:{team}:a'), await written('note:{team}:b'), await written('note:elsewhere')]).toEqual([0, 0, 0]);
      return;
    }
    // The two {team} records share a slot: refused together. The third is another slot's step.
    expect(reply.results.map((r: any) => [r.recordId, r.success])).toEqual([
      ['note:{team}:a', false],
      ['note:{team}:b', false],
      ['note:elsewhere', true],
    ]);
    expect(reply.results[0].error).toContain('maxRecordBytes');
    expect([await written('note:{team}:a'), await written('note:{team}:b'), await written('note:elsewhere')]).toEqual([0, 0, 1]);
  });

  it('after the subscription connection to Redis dropped (updates may have been lost), subscribers whose record moved on get it in full', async () => {
    const full = await connect(b);
    const patch = await connect(b);
    await a.mesh.writeRecord('doc:lost', { v: 1 });
    await full.command('rt/subscribe-record', { recordId: 'doc:lost', mode: 'full' });
    await patch.command('rt/subscribe-record', { recordId: 'doc:lost', mode: 'patch' });
    const admin = adminRedis();
    try {
      // A version no publish announced: only a read after the drop can find it.
      await admin.hset(new RedisKeyLayout(keyPrefix).record('doc:lost'), 'value', '{"v":7}', 'version', 7);
      expect(await killSubscriptions(admin)).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
    await waitFor(() => updates(full, 'doc:lost').length === 1 && updates(patch, 'doc:lost').length === 1, 10_000, 'the resync after the drop');
    for (const client of [full, patch]) expect(updates(client, 'doc:lost')).toEqual([{ recordId: 'doc:lost', full: { v: 7 }, version: 7 }]);
    await a.mesh.writeRecord('doc:lost', { v: 8 });
    await waitFor(() => updates(patch, 'doc:lost').length === 2, 5000, 'live again');
    expect(updates(patch, 'doc:lost')[1]).toEqual({ recordId: 'doc:lost', patch: [{ op: 'replace', path: '/v', value: 8 }], version: 8 });
  });

  it('collections: members with their records, diffs as records come and go, members\' updates pushed', async () => {
    for (const t of [a, b]) t.mesh.exposeCollection('docs', () => t.mesh.listRecordIds('doc:'), { watch: 'doc:' });
    await a.mesh.writeRecord('doc:a', { title: 'A' });
    await a.mesh.writeRecord('doc:b', { title: 'B' });
    const watcher = await connect(b);
    for (const collectionId of ['nope', 'docs'.repeat(100), { $ne: 1 }, 42, null, '']) {
      expect(await watcher.command('rt/subscribe-collection', { collectionId })).toEqual({ success: false, ids: [], records: [], version: 0 });
    }
    expect(await watcher.command('rt/unsubscribe-collection', { collectionId: { $ne: 1 } })).toBe(false);
    const reply = await watcher.command('rt/subscribe-collection', { collectionId: 'docs' });
    expect(reply).toEqual({ success: true, ids: ['doc:a', 'doc:b'], records: [{ id: 'doc:a', record: { title: 'A' } }, { id: 'doc:b', record: { title: 'B' } }], version: 1 });
    await a.mesh.writeRecord('doc:c', { title: 'C' });
    const diffs = () => watcher.frames.filter((f) => f.command === 'rt/collection-diff').map((f) => f.payload as any);
    await waitFor(() => diffs().length === 1, 5000, 'an added diff');
    expect(diffs()[0]).toEqual({ collectionId: 'docs', added: [{ title: 'C', id: 'doc:c' }], removed: [], version: 2 });
    await a.mesh.writeRecord('doc:a', { title: 'A2' });
    await waitFor(() => updates(watcher, 'doc:a').length === 1, 5000, 'a member update');
    expect(updates(watcher, 'doc:a')).toEqual([{ recordId: 'doc:a', full: { title: 'A2' }, version: 2 }]);
    await a.mesh.deleteRecord('doc:b');
    await waitFor(() => diffs().length === 2, 5000, 'a removed diff');
    expect(diffs()[1]).toEqual({ collectionId: 'docs', added: [], removed: [{ id: 'doc:b' }], version: 3 });
    await a.mesh.writeRecord('other:1', 1);
    expect(await watcher.command('rt/unsubscribe-collection', { collectionId: 'docs' })).toBe(true);
    await a.mesh.writeRecord('doc:d', {});
    await a.mesh.writeRecord('doc:a', { title: 'A3' });
    const marker = await connect(b);
    await marker.command('rt/subscribe-collection', { collectionId: 'docs' });
    expect(diffs()).toHaveLength(2);
    expect(updates(watcher, 'doc:a')).toHaveLength(1);
  });
});
