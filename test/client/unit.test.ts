import { MeshClient, MeshUnsupportedError, reconnectDelay } from '../../client';
import { MeshEventEmitter } from '../../client/events';
import { IdAllocator } from '../../client/ids';

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
