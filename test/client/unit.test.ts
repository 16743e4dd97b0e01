import { MeshClient, MeshUnsupportedError, reconnectDelay } from '../../client';
import { MeshEventEmitter } from '../../client/events';
import { IdAllocator } from '../../client/ids';
import { LiveRecords } from '../../client/live-records';
import { StreamPositions } from '../../client/stream-positions';
import { builtinCommandNames } from '../../lib/protocol';

describe('reconnectDelay (exponential backoff, full jitter)', () => {
  const settings = { reconnectInterval: 2000, maxReconnectInterval: 30000 };

  it('is random(0, min(cap, base * 2^n))', () => {
    expect(reconnectDelay(0, settings, () => 0)).toBe(0);
    expect(reconnectDelay(0, settings, () => 0.5)).toBe(1000);
    expect(reconnectDelay(3, settings, () => 0.5)).toBe(8000);
    expect(reconnectDelay(4, settings, () => 0.999999)).toBe(29999);
    expect(reconnectDelay(1000, settings, () => 0.5)).toBe(15000);
  });

  it('stays within the bounds with the real random source', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const bound = Math.min(30000, 2000 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const delay = reconnectDelay(attempt, settings);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(bound);
      }
    }
  });
});

describe('IdAllocator', () => {
  it('skips ids still in flight', () => {
    const ids = new IdAllocator();
    const inFlight = new Set([2, 3]);
    expect(ids.next((id) => inFlight.has(id))).toBe(1);
    expect(ids.next((id) => inFlight.has(id))).toBe(4);
  });
});

describe('StreamPositions', () => {
  it('drops what was delivered, restarts on a new epoch, and hands out copies of the position it updates in place', () => {
    const positions = new StreamPositions();
    expect(positions.advance('c:a', 'e1', 1)).toBe(true);
    expect(positions.get('c:a')).toEqual({ epoch: 'e1', offset: 1 });
    const copy = positions.get('c:a')!;
    expect(positions.advance('c:a', 'e1', 2)).toBe(true);
    expect(copy).toEqual({ epoch: 'e1', offset: 1 }); // a copy taken earlier does not move
    expect(positions.advance('c:a', 'e1', 2)).toBe(false);
    expect(positions.advance('c:a', 'e1', 1)).toBe(false);
    expect(positions.epochOf('c:a')).toBe('e1');
    // A new epoch: the history was lost and offsets start again.
    expect(positions.advance('c:a', 'e2', 1)).toBe(true);
    expect(positions.get('c:a')).toEqual({ epoch: 'e2', offset: 1 });
    // settle: a reply's position moves it forward only, and reports a changed epoch.
    expect(positions.settle('c:a', { epoch: 'e2', offset: 5 })).toBe(false);
    expect(positions.settle('c:a', { epoch: 'e2', offset: 3 })).toBe(false);
    expect(positions.get('c:a')).toEqual({ epoch: 'e2', offset: 5 });
    expect(positions.settle('c:a', { epoch: 'e3', offset: 7 })).toBe(true);
    expect(positions.settle('c:b', { epoch: 'e1', offset: 0 })).toBe(false);
    expect(positions.get('c:missing')).toBeUndefined();
  });
});

describe('MeshEventEmitter', () => {
  it('passes { type, detail } and honours once/off', () => {
    const emitter = new MeshEventEmitter();
    const seen: unknown[] = [];
    const listener = (e: { type: string; detail: unknown }) => seen.push([e.type, e.detail]);
    emitter.once('a', listener);
    emitter.emit('a', 1);
    emitter.emit('a', 2);
    emitter.on('b', listener);
    emitter.off('b', listener);
    emitter.emit('b', 3);
    expect(seen).toEqual([['a', 1]]);
  });
});

describe('MeshClient options', () => {
  it('applies the documented defaults', () => {
    expect(new MeshClient('ws://127.0.0.1:1/mesh').options).toEqual({
      prefix: 'mesh',
      pingTimeout: 30000,
      maxMissedPings: 1,
      shouldReconnect: true,
      reconnectInterval: 2000,
      maxReconnectInterval: 30000,
      maxReconnectAttempts: Infinity,
      commandTimeoutMs: 30000,
      invokeMemorySize: 1000,
      invokeMemoryMs: 300000,
      syncCommands: false,
      retryFirstConnect: false,
    });
  });

  it('refuses a custom WebSocket class together with syncCommands', () => {
    expect(() => new MeshClient('ws://127.0.0.1:1/mesh', { syncCommands: true, WebSocket: class {} as never })).toThrow(MeshUnsupportedError);
  });
  // In a browser, commandSync's error names command(): test/browser runs that in Chromium.
});

describe('LiveRecords: updates handled before their subscribe reply', () => {
  /** A request the test answers itself, as a reply read in the same chunk as the pushes after it. */
  function pending() {
    let answer!: (value: unknown) => void;
    const requests: Array<{ command: string; payload: unknown }> = [];
    const io = {
      request: <T>(command: string, payload: unknown) => {
        requests.push({ command, payload });
        return new Promise<T>((resolve) => (answer = resolve as (value: unknown) => void));
      },
      reportError: (error: unknown) => {
        throw error;
      },
      reportCallbackError: (_target: string, error: unknown) => {
        throw error;
      },
    };
    return { io, requests, answer: (value: unknown) => answer(value) };
  }

  it('keeps them and applies the newer ones after the reply: none is lost, none is applied twice', async () => {
    const { io, requests, answer } = pending();
    const live = new LiveRecords(builtinCommandNames('mesh'), io);
    const seen: unknown[] = [];
    const subscribed = live.subscribe('doc:1', (u) => void seen.push([u.version, u.value]), 'patch');
    live.onUpdate({ recordId: 'doc:1', version: 3, patch: [{ op: 'replace', path: '/n', value: 3 }] }); // already in the reply
    live.onUpdate({ recordId: 'doc:1', version: 4, patch: [{ op: 'replace', path: '/n', value: 4 }] });
    answer({ success: true, record: { n: 3 }, version: 3 });
    await subscribed;
    expect(seen).toEqual([
      [3, { n: 3 }],
      [4, { n: 4 }],
    ]);
    expect(requests).toHaveLength(1);
  });

  it('a collection diff that came first is applied after the reset', async () => {
    const { io, answer } = pending();
    const live = new LiveRecords(builtinCommandNames('mesh'), io);
    const diffs: unknown[] = [];
    const subscribed = live.subscribeCollection('docs', (d) => void diffs.push([d.version, d.reset ?? false, d.added.map((m) => m.id)]));
    live.onDiff({ collectionId: 'docs', added: [{ id: 'b' }], removed: [], version: 2 });
    answer({ success: true, ids: ['a'], records: [{ id: 'a', record: {} }], version: 1 });
    await subscribed;
    expect(diffs).toEqual([
      [1, true, ['a']],
      [2, false, ['b']],
    ]);
  });
});
