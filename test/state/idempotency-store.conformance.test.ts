import { randomUUID } from 'node:crypto';
import type { IdempotencyStore } from '../../lib/state/idempotency/idempotency-store';
import { MemoryIdempotencyStore } from '../../lib/state/idempotency/memory-idempotency-store';
import { RedisIdempotencyStore } from '../../lib/state/idempotency/redis-idempotency-store';
import { RedisConnections } from '../../lib/state/redis/redis-connections';
import { redisOption, uniquePrefix, waitFor } from '../support/test-app';

interface Subject {
  store: IdempotencyStore;
  close(): Promise<void>;
}

async function redisSubject(): Promise<Subject> {
  const redis = new RedisConnections(redisOption(), uniquePrefix());
  await redis.connect();
  return { store: new RedisIdempotencyStore(redis), close: () => redis.stop() };
}

const IMPLEMENTATIONS: Array<[string, () => Promise<Subject>]> = [
  ['Redis', redisSubject],
  ['memory', async () => ({ store: new MemoryIdempotencyStore(), close: async () => undefined })],
];

const LONG = 60_000;

/** The rules every idempotency store keeps, run against both implementations. */
describe.each(IMPLEMENTATIONS)('idempotency store conformance (%s)', (_name, create) => {
  let subject: Subject;
  let store: IdempotencyStore;
  const digest = () => randomUUID();

  beforeEach(async () => {
    subject = await create();
    store = subject.store;
  });

  afterEach(() => subject.close());

  it('lets one run claim a key; later claims see it running with its fingerprint', async () => {
    const key = digest();
    expect(await store.claim(key, 'run-1', 'fp', LONG)).toEqual({ claimed: true });
    expect(await store.claim(key, 'run-2', 'other', LONG)).toEqual({ claimed: false, record: { state: 'running', fingerprint: 'fp' } });
    expect(await store.read(key)).toEqual({ state: 'running', fingerprint: 'fp' });
    expect(await store.read(digest())).toBeUndefined();
  });

  it('a completed run gives later claims its reply, until its ttl runs out', async () => {
    const key = digest();
    await store.claim(key, 'run-1', 'fp', LONG);
    expect(await store.complete(key, 'run-1', '[{"value":1}]', 200)).toBe(true);
    expect(await store.claim(key, 'run-2', 'fp', LONG)).toEqual({ claimed: false, record: { state: 'done', fingerprint: 'fp', reply: '[{"value":1}]' } });
    await waitFor(async () => (await store.read(key)) === undefined, 5000, 'the record to expire');
    expect(await store.claim(key, 'run-3', 'fp', LONG)).toEqual({ claimed: true });
  });

  it('records a run whose reply was not kept as done without a reply', async () => {
    const key = digest();
    await store.claim(key, 'run-1', 'fp', LONG);
    expect(await store.complete(key, 'run-1', undefined, LONG)).toBe(true);
    expect(await store.read(key)).toEqual({ state: 'done', fingerprint: 'fp' });
  });

  it('frees a key whose lease ran out, and the run that lost it can no longer write', async () => {
    const key = digest();
    await store.claim(key, 'run-1', 'fp', 100);
    await waitFor(async () => (await store.read(key)) === undefined, 5000, 'the lease to run out');
    expect(await store.claim(key, 'run-2', 'fp', LONG)).toEqual({ claimed: true });
    expect(await store.renew(key, 'run-1', LONG)).toBe(false);
    expect(await store.complete(key, 'run-1', '[1]', LONG)).toBe(false);
    expect(await store.release(key, 'run-1')).toBe(false);
    expect(await store.read(key)).toEqual({ state: 'running', fingerprint: 'fp' });
  });

  it('renews a running claim for its owner only', async () => {
    const key = digest();
    const witness = digest();
    await store.claim(key, 'run-1', 'fp', 100);
    await store.claim(witness, 'run-1', 'fp', 100);
    expect(await store.renew(key, 'run-2', LONG)).toBe(false);
    expect(await store.renew(key, 'run-1', LONG)).toBe(true);
    // The witness had the same lease and was not renewed: once it is gone, the first lease is over.
    await waitFor(async () => (await store.read(witness)) === undefined, 5000, 'the witness lease to run out');
    expect(await store.read(key)).toEqual({ state: 'running', fingerprint: 'fp' });
  });

  it('releases a running claim for its owner only, and never a completed one', async () => {
    const key = digest();
    await store.claim(key, 'run-1', 'fp', LONG);
    expect(await store.release(key, 'run-2')).toBe(false);
    expect(await store.release(key, 'run-1')).toBe(true);
    expect(await store.read(key)).toBeUndefined();

    const done = digest();
    await store.claim(done, 'run-1', 'fp', LONG);
    await store.complete(done, 'run-1', '[]', LONG);
    expect(await store.release(done, 'run-1')).toBe(false);
    expect(await store.renew(done, 'run-1', LONG)).toBe(false);
    expect(await store.complete(done, 'run-1', '[2]', LONG)).toBe(false);
    expect(await store.read(done)).toEqual({ state: 'done', fingerprint: 'fp', reply: '[]' });
  });

  it('keeps replies byte for byte, whatever they contain', async () => {
    const key = digest();
    const reply = JSON.stringify(['unicode ✓ \u0000 "quotes" \\ and newlines\n', { nested: [1, null, true] }]);
    await store.claim(key, 'run-1', 'fp', LONG);
    await store.complete(key, 'run-1', reply, LONG);
    expect(await store.read(key)).toEqual({ state: 'done', fingerprint: 'fp', reply });
  });
});
