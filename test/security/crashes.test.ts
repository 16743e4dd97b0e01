import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { MeshClient } from '../../client';
import { MeshClientService, type MeshModuleOptions } from '../../lib';
import { RawClient } from '../support/raw-client';
import { redisUrl, startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Nesting `depth` arrays deep: `[[[...]]]`. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe.each([
  ['Redis', false],
  ['memory', true],
])('a value that cannot be encoded fails only its own reply (%s)', (_label, memory) => {
  let t: TestApp;
  let client: RawClient;
  let bystander: RawClient;
  let errors: jest.SpyInstance;

  beforeAll(async () => {
    const mesh: MeshModuleOptions = { keyPrefix: uniquePrefix(), resolveClientId: (c) => c.id };
    t = await startApp({ memory, mesh });
    t.mesh.registerCommand('bigint', () => ({ n: 10n }));
    t.mesh.registerCommand('cycle', () => {
      const a: Record<string, unknown> = {};
      a.self = a;
      return a;
    });
    t.mesh.registerCommand('echo', (ctx) => ctx.payload);
    const clients = t.app.get(MeshClientService);
    t.mesh.registerCommand('relay-invoke', async (ctx) => ({ result: await clients.invoke(ctx.payload.clientId, 'answer', null, 2000) }));
    t.mesh.registerCommand('push-bigint', async (ctx) => {
      try {
        await t.mesh.sendTo(ctx.connection, 'evt', { n: 1n });
        return 'sent';
      } catch (error) {
        return (error as Error).message;
      }
    });
  });

  beforeEach(async () => {
    errors = jest.spyOn(Logger.prototype, 'error');
    client = await RawClient.connect(t.url);
    bystander = await RawClient.connect(t.url);
  });

  afterEach(async () => {
    errors.mockRestore();
    await client.close();
    await bystander.close();
  });

  afterAll(() => t.close());

  it('a handler returning a BigInt or a cycle gets ESERVER, logged once; the node and its neighbours go on', async () => {
    for (const command of ['bigint', 'cycle']) {
      errors.mockClear();
      expect(await client.command(command)).toEqual({ error: 'The reply could not be encoded as JSON', code: 'ESERVER', name: 'EncodeError' });
      expect(errors.mock.calls.filter(([message]) => String(message).includes(`reply to "${command}"`))).toHaveLength(1);
    }
    expect(await client.command('echo', 'still here')).toBe('still here');
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  });

  it('a frame nested deeper than maxPayloadDepth (64) gets EBADFRAME with its id; 64 levels pass', async () => {
    client.sendText(`{"id":7,"command":"echo","payload":${nested(10_000)}}`);
    expect((await client.waitFor((f) => f.id === 7)).payload).toEqual({ error: 'Frame nests deeper than 64 levels', code: 'EBADFRAME', name: 'ProtocolError' });
    // The frame object is level 1, so its payload may nest 63 levels.
    client.sendText(`{"id":8,"command":"echo","payload":${nested(63)}}`);
    expect((await client.waitFor((f) => f.id === 8)).payload).toEqual(JSON.parse(nested(63)));
    client.sendText(`{"id":9,"command":"echo","payload":${nested(64)}}`);
    expect((await client.waitFor((f) => f.id === 9)).payload).toMatchObject({ code: 'EBADFRAME' });
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  });

  it('a client answering an invoke with a 10,000-deep value cannot crash the node that relays it', async () => {
    const answerer = new MeshClient(t.url);
    answerer.handle('answer', () => 'unused');
    await answerer.connect();
    const raw = await RawClient.connect(t.url);
    try {
      raw.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.command === 'mesh/invoke') raw.sendText(`{"id":${JSON.stringify(frame.id)},"command":"mesh/invoke-result","payload":{"result":${nested(10_000)}}}`);
      });
      // The deep answer is refused at the edge: the invoke fails at once, the node stays up.
      const reply = await client.request('relay-invoke', { clientId: raw.connectionId });
      expect(reply.payload).toEqual({ error: "The client's answer was refused: Frame nests deeper than 64 levels", code: 'EBADFRAME', name: 'ClientInvocationError' });
      expect(await client.command('echo', 'alive')).toBe('alive');
    } finally {
      await answerer.close();
      await raw.close();
    }
  });

  it('an invoke answer over maxPayload, or sent as a binary frame, fails that invoke at once (no stray reply to the client)', async () => {
    for (const [label, answer] of [
      ['oversize', (id: string) => ({ data: `{"id":${JSON.stringify(id)},"command":"mesh/invoke-result","payload":{"result":"${'r'.repeat(1024 * 1024)}"}}`, binary: false })],
      ['binary', (id: string) => ({ data: `{"id":${JSON.stringify(id)},"command":"mesh/invoke-result","payload":{"result":1}}`, binary: true })],
    ] as const) {
      const raw = await RawClient.connect(t.url);
      try {
        raw.socket.on('message', (data) => {
          const frame = JSON.parse(data.toString());
          if (frame.command !== 'mesh/invoke') return;
          const { data: text, binary } = answer(frame.id);
          raw.sendText(text, binary);
        });
        const started = Date.now();
        const reply = await client.request('relay-invoke', { clientId: raw.connectionId });
        expect([label, reply.payload]).toEqual([label, { error: expect.stringMatching(/^The client's answer was refused: /), code: label === 'oversize' ? 'ETOOLARGE' : 'EBADFRAME', name: 'ClientInvocationError' }]);
        // Long before the invoke's 2 s deadline.
        expect(Date.now() - started).toBeLessThan(1500);
        expect(await raw.command('mesh/noop')).toBe(true);
        expect(raw.frames.filter((f) => f.command === 'mesh/error')).toEqual([]);
      } finally {
        await raw.close();
      }
    }
  });

  it('a push whose payload cannot be encoded rejects to the server code that sent it', async () => {
    expect(await client.command('push-bigint')).toMatch(/^The payload of event "evt" cannot be encoded as JSON/);
    await expect(t.mesh.broadcast('evt', { n: 2n })).rejects.toThrow(TypeError);
    await expect(t.mesh.broadcastRoom('r', 'evt', { n: 2n })).rejects.toThrow(TypeError);
    expect(await bystander.command('echo', 'neighbour')).toBe('neighbour');
  });

  it('disconnect with a close code a server may not send throws and leaves the socket open', async () => {
    await expect(t.mesh.disconnect(client.connectionId!, 5000)).rejects.toThrow(RangeError);
    const connection = t.mesh.getConnection(client.connectionId!)!;
    expect(() => connection.close(1005)).toThrow(RangeError);
    expect(() => connection.close(1000, 'x'.repeat(200))).toThrow(RangeError);
    expect(connection.isOpen).toBe(true);
    expect(await client.command('echo', 'open')).toBe('open');
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    await t.mesh.disconnect(client.connectionId!, 4321);
    expect(await closed).toBe(4321);
  });
});

describe('node messages arriving from Redis are checked, never trusted', () => {
  it('malformed envelopes and close codes out of range on a node channel are dropped; the node keeps serving', async () => {
    const keyPrefix = uniquePrefix();
    const t = await startApp({ mesh: { keyPrefix } });
    const redis = new Redis(redisUrl());
    const warnings = jest.spyOn(Logger.prototype, 'warn');
    try {
      t.mesh.registerCommand('echo', (ctx) => ctx.payload);
      const client = await RawClient.connect(t.url);
      const id = client.connectionId!;
      const keys = new RedisKeyLayout(keyPrefix);
      const nodeChannel = keys.nodeChannel(t.mesh.nodeId);
      const node = t.mesh.nodeId;
      const bad = [
        `1 close\n${node}\n${id}\n5000`,
        `1 close\n${node}\n${id}\n1005`,
        `1 close\n${node}\n${id}\nnot-a-code`,
        `1 teleport\n1\n${id}\nunknown kind`,
        `2 send\n1\n${id}\n{}`,
        `1 send\nnot-a-node\n${id}\n{}`,
        `1 room\n1\n\n99999:short`,
        'no newlines at all',
        `1 request\n1\na,b\n{}`,
        `1 reply\n1\n\n{}`,
        `1 send\n1\n,,\n{}`,
      ];
      for (const message of bad) await redis.publish(nodeChannel, message);
      await redis.publish(keys.broadcastChannel, `1 room\n1\n\n0:{"command":"x"}`);
      await waitFor(() => warnings.mock.calls.filter(([m]) => String(m).startsWith('Dropped a malformed node message')).length >= bad.length + 1, 3000, 'every bad envelope logged');
      expect(await client.command('echo', 'still open')).toBe('still open');
      expect(t.mesh.getConnection(id)?.isOpen).toBe(true);
      await client.close();
    } finally {
      warnings.mockRestore();
      redis.disconnect();
      await t.close();
    }
  });
});
