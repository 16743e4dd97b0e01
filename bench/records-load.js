'use strict';
// Record subscribers for `records.js`, in their own process, driven over IPC: connects
// `subscribers` clients of the target (half on each node, half `full` and half `patch` on each),
// subscribes each to one record, and counts what reaches them, per version:
// latency (arrival − the write's launch time `t` carried in the value, same machine clock),
// delivered (distinct versions per subscriber against the versions written), duplicates, versions
// that went backwards, gaps (an update that skips versions) and resyncs (a patch subscriber's
// client subscribing again, after a gap or a patch that did not apply: it gets the value in
// full, and the versions it skipped count as not delivered), and subscribers left showing an
// older version than the last one written.
const { applyPatch } = require('fast-json-patch');
const { MeshClient } = require('../dist/client');
const { Histogram, serveIpc, sleep } = require('./common');
const { wallMs } = require('./servers/drive');

const TIMEOUT = 60_000;

/**
 * One subscriber on either target, normalised: `onUpdate({ kind, version, value })` with kind
 * `first` (the subscribe reply), `update` or `resync`.
 */
const connectors = {
  async 'nestjs-mesh'(port, recordId, mode, onUpdate) {
    const client = new MeshClient(`ws://127.0.0.1:${port}/mesh`, { shouldReconnect: false, commandTimeoutMs: TIMEOUT });
    await client.connect();
    let first = true;
    const reply = await client.subscribeRecord(
      recordId,
      (u) => {
        // Patch mode: an update without a patch after the first is the client's resync.
        const kind = first ? 'first' : mode === 'patch' && !u.patch ? 'resync' : 'update';
        first = false;
        onUpdate({ kind, version: u.version, value: u.value });
      },
      { mode },
    );
    if (!reply?.success) throw new Error(`nestjs-mesh: subscribe ${recordId} refused`);
    return { close: () => client.close() };
  },

  async '@prsm/realtime'(port, recordId, mode, onUpdate) {
    globalThis.WebSocket ??= require('ws').WebSocket; // Node 20 has no global WebSocket; the client needs one.
    const { RealtimeClient } = await import('@prsm/realtime/client');
    const client = new RealtimeClient(`ws://127.0.0.1:${port}`, { shouldReconnect: false, pingTimeout: TIMEOUT });
    await client.connect();
    let first = true;
    let value = null;
    const reply = await client.subscribeRecord(
      recordId,
      (u) => {
        // This client hands patch subscribers the patch only: apply it here, as an app would.
        let kind = 'update';
        if (u.patch) value = applyPatch(structuredClone(value), u.patch, false, false).newDocument;
        else {
          value = u.full;
          if (!first && mode === 'patch') kind = 'resync';
        }
        if (first) kind = 'first';
        first = false;
        onUpdate({ kind, version: u.version, value });
      },
      { mode },
    );
    if (!reply?.success) throw new Error(`@prsm/realtime: subscribe ${recordId} refused`);
    return { close: async () => client.close() };
  },
};

let subscribers = [];
let window = { base: Infinity, seen: [], histogram: new Histogram(), counts: {} };

function newWindow(base, count) {
  return {
    base,
    // seen[s][v - base - 1]: times subscriber s got version v (bounded: versions past `count` are not tracked).
    seen: subscribers.map(() => new Uint8Array(count)),
    histogram: new Histogram(),
    counts: { updates: 0, duplicates: 0, backwards: 0, gaps: 0, resyncs: 0, untracked: 0, byMode: { full: new Histogram(), patch: new Histogram() } },
  };
}

function onUpdate(s, { kind, version, value }) {
  const sub = subscribers[s];
  const last = sub.version;
  sub.version = Math.max(last, version);
  sub.shown = version; // what the app shows now: an older version delivered late replaces a newer one
  sub.updates++;
  const w = window;
  if (kind === 'first' || version <= w.base) return;
  if (kind === 'resync') w.counts.resyncs++;
  else if (version <= last) w.counts.backwards++;
  else if (version > last + 1) w.counts.gaps++;
  const i = version - w.base - 1;
  if (i >= w.seen[s].length) return void w.counts.untracked++;
  if (w.seen[s][i]++) w.counts.duplicates++;
  if (kind !== 'update') return;
  w.counts.updates++;
  const ms = wallMs() - value.t;
  w.histogram.record(ms);
  w.counts.byMode[sub.mode].record(ms);
}

const ops = {
  /** Connects and subscribes everyone, in batches of 25. */
  async init({ target, ports, recordId, count }) {
    const connect = connectors[target];
    subscribers = Array.from({ length: count }, (_, i) => ({ node: i % 2, mode: (i >> 1) % 2 ? 'patch' : 'full', version: 0, updates: 0 }));
    const clients = [];
    for (let i = 0; i < count; i += 25) {
      clients.push(...(await Promise.all(subscribers.slice(i, i + 25).map((sub, j) => connect(ports[sub.node], recordId, sub.mode, (u) => onUpdate(i + j, u))))));
    }
    subscribers.forEach((sub, i) => (sub.client = clients[i]));
    return { subscribed: clients.length, versions: subscribers.map((sub) => sub.version) };
  },

  /** From now on, versions after `base` are counted (up to `base + count`). */
  start({ base, count }) {
    window = newWindow(base, count);
    return true;
  },

  /**
   * Waits (5 s at most) until every subscriber is at version `end`, then reports the window
   * `(base, end]`.
   */
  async report({ end, drainMs = 5000 }) {
    const deadline = Date.now() + drainMs;
    while (subscribers.some((sub) => sub.version < end) && Date.now() < deadline) await sleep(10);
    await sleep(100); // late duplicates, if any
    const w = window;
    const versions = Math.min(end - w.base, w.seen[0]?.length ?? 0);
    let delivered = 0;
    for (const seen of w.seen) for (let i = 0; i < versions; i++) if (seen[i]) delivered++;
    const h = w.histogram;
    const q = (hist) => ({ p50: hist.quantile(0.5), p99: hist.quantile(0.99), max: hist.count ? hist.max : null });
    return {
      versions,
      expected: versions * subscribers.length,
      delivered,
      ...w.counts,
      byMode: { full: q(w.counts.byMode.full), patch: q(w.counts.byMode.patch) },
      behind: subscribers.filter((sub) => sub.version < end).length,
      // Left showing an older version than the last one written (a late, out-of-order update had the last word).
      stale: subscribers.filter((sub) => sub.shown !== end).length,
      ...q(h),
      latencyCount: h.count,
    };
  },

  async close() {
    await Promise.all(subscribers.map((sub) => sub.client?.close()));
    return true;
  },
};

serveIpc(ops);
