import { MeshClient } from '../../client';
import type { CollectionDiff, RecordUpdate } from '../../client';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { cutAndHold, RECONNECT_FAST, watchedClient } from '../support/recovery';
import { TcpProxy } from '../support/tcp-proxy';
import { adminRedis, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

describe('MeshClient records and collections, across two nodes', () => {
  let keyPrefix: string;
  let a: TestApp;
  let b: TestApp;
  const clients: MeshClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    keyPrefix = uniquePrefix();
    [a, b] = await Promise.all([startApp({ mesh: { keyPrefix } }), startApp({ mesh: { keyPrefix } })]);
    for (const t of [a, b]) {
      t.mesh.exposeRecord(/^doc:/);
      t.mesh.exposeWritableRecord(/^note:/);
      t.mesh.exposeCollection('notes', () => t.mesh.listRecordIds('note:'), { watch: 'note:' });
    }
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all([a.close(), b.close()]);
  });

  it('full and patch subscriptions see the same values, version by version', async () => {
    await a.mesh.writeRecord('doc:1', { title: 'draft', tags: ['a'] });
    const { c } = await watchedClient(b.url, clients);
    const full: RecordUpdate[] = [];
    const patched: RecordUpdate[] = [];
    expect(await c.subscribeRecord('doc:1', (u) => void full.push(u))).toEqual({ success: true, record: { title: 'draft', tags: ['a'] }, version: 1 });
    await c.subscribeRecord('doc:2', (u) => void patched.push(u), { mode: 'patch' });
    expect(full).toEqual([{ recordId: 'doc:1', value: { title: 'draft', tags: ['a'] }, version: 1 }]);
    await a.mesh.writeRecord('doc:1', { tags: ['a', 'b'] }, { strategy: 'merge' });
    await a.mesh.writeRecord('doc:2', { n: 1 });
    await a.mesh.writeRecord('doc:2', { n: 2, deep: { x: [1] } });
    await a.mesh.writeRecord('doc:2', { deep: { x: [1, 2] } }, { strategy: 'deepMerge' });
    await waitFor(() => patched.length === 4 && full.length === 2, 5000, 'updates');
    expect(full[1]).toEqual({ recordId: 'doc:1', value: { title: 'draft', tags: ['a', 'b'] }, version: 2 });
    expect(patched.map((u) => u.value)).toEqual([null, { n: 1 }, { n: 2, deep: { x: [1] } }, { n: 2, deep: { x: [1, 2] } }]);
    expect(patched[3].patch).toEqual([{ op: 'add', path: '/deep/x/1', value: 2 }]);
    expect(patched.map((u) => u.version)).toEqual([0, 1, 2, 3]);
  });

  it('a version gap heals by subscribing again; a delete ends the subscription', async () => {
    await a.mesh.writeRecord('doc:gap', { v: 1 });
    const { c, errors } = await watchedClient(b.url, clients);
    const seen: RecordUpdate[] = [];
    await c.subscribeRecord('doc:gap', (u) => void seen.push(u), { mode: 'patch' });
    // Versions 2 to 4 written behind the nodes' backs (as if their updates were lost), then version 5 for real.
    const admin = adminRedis();
    try {
      await admin.hset(new RedisKeyLayout(keyPrefix).record('doc:gap'), 'value', '{"v":4}', 'version', 4);
    } finally {
      admin.disconnect();
    }
    await a.mesh.writeRecord('doc:gap', { v: 5 });
    await waitFor(() => seen.length === 2, 5000, 'the resync');
    expect(seen[1]).toEqual({ recordId: 'doc:gap', value: { v: 5 }, version: 5 });
    await a.mesh.writeRecord('doc:gap', { v: 6 });
    await waitFor(() => seen.length === 3, 5000, 'the next version');
    expect(seen[2]).toMatchObject({ value: { v: 6 }, version: 6, patch: [{ op: 'replace', path: '/v', value: 6 }] });
    await a.mesh.deleteRecord('doc:gap');
    await waitFor(() => seen.length === 4, 5000, 'the delete');
    expect(seen[3]).toEqual({ recordId: 'doc:gap', value: null, version: 7, deleted: true });
    expect(await c.unsubscribeRecord('doc:gap')).toBe(false);
    expect(errors).toEqual([]);
  });

  it('writes and transactions from the client; refusals reject with the server\'s code', async () => {
    const c = new MeshClient(a.url);
    clients.push(c);
    expect(await c.writeRecord('note:1', { text: 'hi' })).toBe(1);
    expect(await c.writeRecord('note:1', { more: true }, { strategy: 'merge' })).toBe(2);
    expect(await b.mesh.getRecord('note:1')).toEqual({ text: 'hi', more: true });
    await expect(c.writeRecord('doc:1', 1)).rejects.toMatchObject({ code: 'EFORBIDDEN' });
    const done = await c.transaction([
      { op: 'write', recordId: 'note:2', value: 2 },
      { op: 'delete', recordId: 'note:1' },
    ]);
    expect(done.results).toEqual([
      { op: 'write', recordId: 'note:2', success: true, version: 1 },
      { op: 'delete', recordId: 'note:1', success: true, version: 3 },
    ]);
    await expect(c.transaction([{ op: 'write', recordId: 'doc:x', value: 1 }])).rejects.toMatchObject({ code: 'ETXN' });
  });

  it('a collection: reset, then added, changed and removed, across nodes', async () => {
    await a.mesh.writeRecord('note:a', { text: 'A' });
    const { c } = await watchedClient(b.url, clients);
    const diffs: CollectionDiff[] = [];
    const reply = await c.subscribeCollection('notes', { onDiff: (d) => void diffs.push(d) });
    expect(reply).toMatchObject({ success: true, ids: ['note:a'], version: 1 });
    expect(diffs).toEqual([{ collectionId: 'notes', added: [{ id: 'note:a', record: { text: 'A' } }], removed: [], changed: [], version: 1, reset: true }]);
    await a.mesh.writeRecord('note:b', { text: 'B' });
    await waitFor(() => diffs.length === 2, 5000, 'added');
    expect(diffs[1]).toEqual({ collectionId: 'notes', added: [{ id: 'note:b', record: { text: 'B', id: 'note:b' } }], removed: [], changed: [], version: 2 });
    await a.mesh.writeRecord('note:a', { text: 'A2' });
    await waitFor(() => diffs.length === 3, 5000, 'changed');
    expect(diffs[2]).toEqual({ collectionId: 'notes', added: [], removed: [], changed: [{ id: 'note:a', record: { text: 'A2', id: 'note:a' } }], version: 2 });
    await a.mesh.deleteRecord('note:a');
    await waitFor(() => diffs.length === 4, 5000, 'removed');
    expect(diffs[3]).toEqual({ collectionId: 'notes', added: [], removed: [{ id: 'note:a' }], changed: [], version: 3 });
    expect(await c.subscribeCollection('secret', { onDiff: () => undefined })).toMatchObject({ success: false });
  });

  it('after a reconnect to the other node, records and collections are current again', async () => {
    await a.mesh.writeRecord('doc:r', { v: 1 });
    const proxy = await TcpProxy.start(a.port);
    proxies.push(proxy);
    const { c, errors } = await watchedClient(`ws://127.0.0.1:${proxy.port}/mesh`, clients, RECONNECT_FAST);
    const seen: RecordUpdate[] = [];
    const diffs: CollectionDiff[] = [];
    await c.subscribeRecord('doc:r', (u) => void seen.push(u), { mode: 'patch' });
    await c.subscribeCollection('notes', { onDiff: (d) => void diffs.push(d) });
    const back = await cutAndHold(c, proxy);
    await a.mesh.writeRecord('doc:r', { v: 2 });
    await a.mesh.writeRecord('doc:r', { v: 3 });
    await a.mesh.writeRecord('note:new', { text: 'while away' });
    await back(b.port);
    await waitFor(() => seen.length === 2 && diffs.length === 2, 5000, 'the renewals');
    expect(seen[1]).toEqual({ recordId: 'doc:r', value: { v: 3 }, version: 3 });
    expect(diffs[1]).toMatchObject({ reset: true, added: [{ id: 'note:new', record: { text: 'while away' } }], version: 1 });
    await b.mesh.writeRecord('doc:r', { v: 4 });
    await waitFor(() => seen.length === 3, 5000, 'live again');
    expect(seen[2]).toMatchObject({ value: { v: 4 }, version: 4, patch: [{ op: 'replace', path: '/v', value: 4 }] });
    expect(errors).toEqual([]);
  });
});

describe('records and collections in one process without Redis', () => {
  let t: TestApp;
  const clients: MeshClient[] = [];

  beforeEach(async () => {
    t = await startApp({ memory: true });
    t.mesh.exposeWritableRecord(/^note:/);
    t.mesh.exposeCollection('notes', () => t.mesh.listRecordIds('note:'), { watch: 'note:' });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await t.close();
  });

  it('the same versions, patches, deletes, transactions and diffs as with Redis', async () => {
    const { c } = await watchedClient(t.url, clients);
    const seen: RecordUpdate[] = [];
    const diffs: CollectionDiff[] = [];
    await c.subscribeRecord('note:m', (u) => void seen.push(u), { mode: 'patch' });
    await c.subscribeCollection('notes', { onDiff: (d) => void diffs.push(d) });
    expect(await c.writeRecord('note:m', { a: 1 })).toBe(1);
    expect(await t.mesh.writeRecord('note:m', { b: 2 }, { strategy: 'merge' })).toBe(2);
    await waitFor(() => seen.length === 3 && diffs.length >= 2, 5000, 'updates and a diff');
    expect(seen.map((u) => [u.version, u.value])).toEqual([
      [0, null],
      [1, { a: 1 }],
      [2, { a: 1, b: 2 }],
    ]);
    expect(diffs[1]).toMatchObject({ added: [{ id: 'note:m' }], version: 2 });
    const done = await c.transaction([
      { op: 'write', recordId: 'note:n', value: 1 },
      { op: 'delete', recordId: 'note:m' },
    ]);
    expect(done.results.map((r) => r.version)).toEqual([1, 3]);
    await waitFor(() => seen.length === 4, 5000, 'the delete');
    expect(seen[3]).toEqual({ recordId: 'note:m', value: null, version: 3, deleted: true });
    expect(await t.mesh.listRecordIds('note:')).toEqual(['note:n']);
    expect(await t.mesh.writeRecord('note:m', 'back')).toBe(4);
  });
});
