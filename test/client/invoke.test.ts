import { MeshClient } from '../../client';
import type { Frame } from '../../lib/protocol';
import { ScriptedServer } from './support/scripted-server';

describe('MeshClient server-to-client invoke', () => {
  let server: ScriptedServer;
  let client: MeshClient;

  beforeEach(async () => {
    server = await ScriptedServer.start();
    client = new MeshClient(server.url);
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    await server.stop();
  });

  async function invoke(id: string, type: string, data?: unknown): Promise<Frame> {
    server.send(server.socket, { id, command: 'mesh/invoke', payload: { type, data } });
    return (await server.waitForFrame((r) => r.frame.command === 'mesh/invoke-result' && r.frame.id === id)).frame;
  }

  it("sends the handler's (awaited) result back under the invoke's string id", async () => {
    client.handle<{ a: number; b: number }, number>('add', async ({ a, b }) => a + b);
    await expect(invoke('inv-1', 'add', { a: 2, b: 3 })).resolves.toEqual({ id: 'inv-1', command: 'mesh/invoke-result', payload: { result: 5 } });
  });

  it('sends what the handler threw as an error payload, keeping a string code', async () => {
    client.handle('coded', () => {
      throw Object.assign(new Error('not allowed'), { code: 'EDENIED' });
    });
    client.handle('plain', () => {
      throw new TypeError('bad input');
    });
    await expect(invoke('inv-2', 'coded')).resolves.toMatchObject({ payload: { error: 'not allowed', code: 'EDENIED', name: 'Error' } });
    await expect(invoke('inv-3', 'plain')).resolves.toMatchObject({ payload: { error: 'bad input', code: 'EHANDLER', name: 'TypeError' } });
  });

  it('answers ENOTFOUND for a type with no handler (also after unhandle)', async () => {
    const reply = await invoke('inv-4', 'missing');
    expect(reply.payload).toEqual({ error: 'No handler for invoke type "missing"', code: 'ENOTFOUND', name: 'InvokeError' });
    client.handle('temp', () => 1).unhandle('temp');
    await expect(invoke('inv-5', 'temp')).resolves.toMatchObject({ payload: { code: 'ENOTFOUND' } });
  });
});
