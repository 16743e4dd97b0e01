// The published @prsm/realtime client's records, transactions and collections against two of our
// nodes. Usage: node realtime-records-scenario.mjs <scenario> <ws-url-of-node-a> <ws-url-of-node-b>
// Prints `{ step }` lines for the test to act on the servers, then one `{ done, result }` line.
import { RealtimeClient, runScenario, waitFor } from './scenario-kit.mjs';

const [scenario, urlA, urlB] = process.argv.slice(2);
/** Asks the test to act on the servers; the scenario then waits for what that should bring. */
const step = (name) => console.log(JSON.stringify({ step: name }));

async function records() {
  const a = new RealtimeClient(urlA, { pingTimeout: 5000 });
  const b = new RealtimeClient(urlB, { pingTimeout: 5000 });
  await Promise.all([a.connect(), b.connect()]);
  const out = {};
  const full = [];
  const patched = [];
  out.subscribeFull = await b.subscribeRecord('doc:1', (u) => full.push(u), { mode: 'full' });
  out.subscribePatch = await a.subscribeRecord('doc:1', (u) => patched.push(u), { mode: 'patch' });
  out.unexposed = await a.subscribeRecord('secret:1', () => undefined);
  // Server writes from both nodes at once: 40 versions, in order, each once.
  step('burst');
  await waitFor(() => patched.length === 41 && full.length === 41, '41 callbacks each');
  out.patchVersions = patched.map((u) => u.version);
  out.fullVersions = full.map((u) => u.version);
  out.lastFull = full.at(-1).full;
  out.patchKinds = [...new Set(patched.slice(1).map((u) => (u.patch ? 'patch' : 'full')))];
  // A gap: versions written behind the nodes' backs; the client resubscribes and gets the value in full.
  const before = patched.length;
  step('gap');
  await waitFor(() => patched.length > before && patched.at(-1).full !== undefined, 'the resync');
  out.healed = patched.at(-1);
  // Client writes.
  const notes = [];
  await b.subscribeRecord('note:1', (u) => notes.push(u), { mode: 'full' });
  out.write = await a.writeRecord('note:1', { text: 'from a client' });
  out.refusedWrite = await a.writeRecord('doc:1', { text: 'not allowed' });
  await waitFor(() => notes.length === 2, 'the client write on the other node');
  out.notes = notes;
  out.transaction = await a.transaction([
    { op: 'write', recordId: 'note:2', value: { n: 2 } },
    { op: 'delete', recordId: 'note:1' },
  ]);
  try {
    await a.transaction([{ op: 'write', recordId: 'doc:1', value: 1 }]);
    out.refusedTransaction = 'committed';
  } catch (error) {
    out.refusedTransaction = { code: error.code, name: error.name, message: error.message };
  }
  await waitFor(() => notes.some((u) => u.deleted), 'the delete in the transaction');
  out.deleted = notes.at(-1);
  await a.close();
  await b.close();
  return out;
}

async function collections() {
  const b = new RealtimeClient(urlB, { pingTimeout: 5000, reconnectInterval: 100 });
  await b.connect();
  const diffs = [];
  const out = {};
  out.subscribe = await b.subscribeCollection('notes', { onDiff: (d) => diffs.push(d) });
  out.unexposed = await b.subscribeCollection('nope', { onDiff: () => undefined });
  step('add');
  await waitFor(() => diffs.some((d) => d.added.length > 0 && !d.reset), 'an added diff');
  step('change');
  await waitFor(() => diffs.some((d) => d.changed.length > 0), 'a changed diff');
  step('remove');
  await waitFor(() => diffs.some((d) => d.removed.length > 0), 'a removed diff');
  out.diffs = diffs;
  // The server drops the connection: the client reconnects and subscribes again to both.
  const updates = [];
  await b.subscribeRecord('note:x', (u) => updates.push(u));
  const reconnected = new Promise((resolve) => b.once('reconnect', resolve));
  await b.command('drop-me', {});
  await reconnected;
  // Its renewal calls the callback again (with the value then); wait for it before the next write.
  await waitFor(() => updates.length >= 2, 'the record renewed');
  const after = diffs.length;
  step('after-reconnect');
  await waitFor(() => diffs.slice(after).some((d) => d.added.some((r) => r.id === 'note:y')) && updates.some((u) => u.full?.text === 'X'), 'a diff and an update after the reconnect');
  out.afterReconnect = { diffs: diffs.slice(after), updates };
  await b.close();
  return out;
}

const scenarios = { records, collections };
await runScenario(scenarios, scenario);
