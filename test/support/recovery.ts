import { MeshClient, type MeshClientOptions, type SubscriptionRecoveredEvent } from '../../client';
import type { Frame } from '../../lib/protocol';
import type { TcpProxy } from './tcp-proxy';
import { sleep, waitFor } from './test-app';

/** Fast reconnects for recovery tests: a cut client is back within tens of milliseconds. */
export const RECONNECT_FAST: MeshClientOptions = { reconnectInterval: 20, maxReconnectInterval: 50 };

/** A MeshClient with what the recovery tests look at: its recovery events, its `error` events, every frame on the wire. */
export interface WatchedClient {
  c: MeshClient;
  /** `subscription-recovered` details, in the order emitted. */
  recovered: SubscriptionRecoveredEvent[];
  /** `error` events, in the order emitted. */
  errors: Error[];
  /** Every frame the client received (before its own duplicate filtering). */
  frames: Frame[];
  /** Connection ids the client had, in order (one per successful connect). */
  connectionIds: string[];
}

/** Wraps and connects a client; it is pushed on `registry` first so the suite closes it even if connecting fails. */
export async function watchedClient(url: string, registry: MeshClient[], options: MeshClientOptions = RECONNECT_FAST): Promise<WatchedClient> {
  const c = new MeshClient(url, options);
  registry.push(c);
  const watched: WatchedClient = { c, recovered: [], errors: [], frames: [], connectionIds: [] };
  c.on('subscription-recovered', (e) => void watched.recovered.push(e.detail));
  c.on('error', (e) => void watched.errors.push(e.detail));
  c.on('message', (e) => void watched.frames.push(e.detail as Frame));
  c.on('connect', (e) => void watched.connectionIds.push((e.detail as { connectionId: string }).connectionId));
  await c.connect();
  return watched;
}

/** The recovery events of one channel or room. */
export function recoveriesOf(w: WatchedClient, target: { channel: string } | { room: string }): SubscriptionRecoveredEvent[] {
  return w.recovered.filter((r) => ('channel' in target ? r.channel === target.channel : r.room === target.room));
}

/** `subscription-message` frames of a channel the client received (duplicates included: the wire, not the callbacks). */
export function channelFrames(w: WatchedClient, channel: string): Array<{ message: string; epoch?: string; offset?: number }> {
  return w.frames
    .filter((f) => f.command === 'mesh/subscription-message' && (f.payload as { channel?: string })?.channel === channel)
    .map((f) => f.payload as { message: string; epoch?: string; offset?: number });
}

/** Room event frames (positioned: they carry `position.room`) of one room the client received. */
export function roomFrames(w: WatchedClient, room: string): Frame[] {
  return w.frames.filter((f) => (f.position as { room?: string } | undefined)?.room === room);
}

/**
 * Cuts the connections of the clients through the proxy and keeps them away (the proxy holds
 * their reconnect attempts). Resolves once every client saw the disconnect, with `back(port)`,
 * which lets them through to `port` and resolves once each reconnected and renewed its
 * subscriptions (the client's `reconnect` event comes after every renewal was answered).
 */
export async function cutAndHold(clients: MeshClient | MeshClient[], proxy: TcpProxy): Promise<(port: number) => Promise<void>> {
  const list = Array.isArray(clients) ? clients : [clients];
  const dropped = list.map((c) => new Promise((resolve) => c.once('disconnect', resolve)));
  proxy.hold();
  proxy.cut();
  await Promise.all(dropped);
  return async (port: number) => {
    const reconnected = list.map((c) => new Promise((resolve) => c.once('reconnect', resolve)));
    proxy.retarget(port);
    proxy.release();
    await Promise.all(reconnected);
  };
}

/**
 * Gaps, duplicates and reorderings of a received numbered sequence against 1..n: all empty and
 * `count === n` means exactly 1..n once each, in order. Reported as one object so that a failure
 * says what was wrong (not a 5,000-line array diff).
 */
export function sequenceReport(received: readonly number[], n: number) {
  const seen = new Map<number, number>();
  const outOfOrder: Array<{ at: number; after: number; got: number }> = [];
  for (let i = 0; i < received.length; i++) {
    seen.set(received[i], (seen.get(received[i]) ?? 0) + 1);
    if (i > 0 && received[i] <= received[i - 1] && outOfOrder.length < 10) outOfOrder.push({ at: i, after: received[i - 1], got: received[i] });
  }
  const missing: number[] = [];
  for (let k = 1; k <= n && missing.length < 20; k++) if (!seen.has(k)) missing.push(k);
  const duplicates = [...seen].filter(([, times]) => times > 1).slice(0, 20).map(([k, times]) => ({ value: k, times }));
  const unexpected = [...seen.keys()].filter((k) => !(k >= 1 && k <= n)).slice(0, 20);
  return { count: received.length, missing, duplicates, unexpected, outOfOrder };
}

/** What `sequenceReport` gives for exactly 1..n. */
export function exactSequence(n: number) {
  return { count: n, missing: [], duplicates: [], unexpected: [], outOfOrder: [] };
}

/**
 * Publishes 1, 2, 3, ... one after the other (each awaited, so their offsets follow the
 * numbers), `paceMs` apart, until stopped. A failed publish stops the loop; `stop()` and `until()`
 * rethrow it.
 */
export class SequencePublisher {
  /** The last number whose publish resolved. */
  sent = 0;
  private stopped = false;
  private failure?: unknown;
  private readonly loop: Promise<void>;

  constructor(publishOne: (n: number) => Promise<unknown>, paceMs: number) {
    this.loop = (async () => {
      while (!this.stopped) {
        const n = this.sent + 1;
        await publishOne(n);
        this.sent = n;
        // Pacing of the load, not synchronisation: nothing waits on this delay.
        if (paceMs > 0) await sleep(paceMs);
        else await new Promise((resolve) => setImmediate(resolve));
      }
    })().catch((error) => {
      this.failure = error;
    });
  }

  /** Waits until `n` numbers were published. */
  async until(n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      () => {
        if (this.failure) throw this.failure;
        return this.sent >= n;
      },
      timeoutMs,
      `the publisher to reach ${n} (at ${this.sent})`,
    );
  }

  /** Stops after the publish in flight; resolves with the last number published. */
  async stop(): Promise<number> {
    this.stopped = true;
    await this.loop;
    if (this.failure) throw this.failure;
    return this.sent;
  }
}
