import { MeshClient, type PresenceUpdate } from '../../client';
import { NodeProcess } from '../support/node-process';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

// The doomed node is the sample app in its own OS process (dist/sample-app, built by `npm test`'s
// pretest), so it can be SIGKILLed: no shutdown hook, no close frames, no leave of its own. The
// sample tracks presence in `lobby` and `lobby:*`; the survivor, an in-process node on the same
// Redis and key prefix, tracks them the same way. The dead-node bound is about
// nodeTtl + nodeHeartbeatInterval (docs/scaling.md); both are made short here.
const FAST = { nodeHeartbeatInterval: 100, nodeTtl: 500 };
const FAST_ENV = { MESH_NODE_HEARTBEAT_INTERVAL: '100', MESH_NODE_TTL: '500' };
const MEMBERS = 3;

describe('presence: a SIGKILLed node', () => {
  let survivor: TestApp | undefined;
  let doomed: NodeProcess | undefined;
  const clients: MeshClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await doomed?.stop('SIGKILL');
    await survivor?.close();
    doomed = survivor = undefined;
  });

  it("its members leave the presence of the survivors' subscribers within the dead-node bound, published by the leader's cleanup", async () => {
    const keyPrefix = uniquePrefix();
    survivor = await startApp({ mesh: { keyPrefix, ...FAST } });
    survivor.mesh.exposeRoom(/^lobby(:.+)?$/);
    survivor.mesh.trackPresence(/^lobby(:.+)?$/);
    doomed = await NodeProcess.start({ keyPrefix, env: FAST_ENV });

    const watcher = new MeshClient(survivor.url);
    clients.push(watcher);
    await watcher.connect();
    const updates: Array<PresenceUpdate & { at: number }> = [];
    await watcher.subscribePresence('lobby:kill', (u) => void updates.push({ ...u, at: Date.now() }));
    expect((await watcher.joinRoom('lobby:kill')).success).toBe(true);

    const members: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const member = new MeshClient(doomed.url, { shouldReconnect: false });
      clients.push(member);
      await member.connect();
      expect((await member.joinRoom('lobby:kill')).presence?.id).toBe(member.connectionId);
      await member.publishPresenceState('lobby:kill', { state: { n: i } });
      members.push(member.connectionId!);
    }
    await waitFor(() => updates.filter((u) => u.type === 'join').length === MEMBERS + 1, 5000, 'every join');

    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    const gone = () => updates.filter((u) => u.type === 'leave');
    await waitFor(() => gone().length === MEMBERS, 10_000, "the dead node's members to leave");
    const leaves = gone();
    expect(leaves.map((u) => (u.type === 'leave' ? u.connectionId : '')).sort()).toEqual([...members].sort());
    const latest = Math.max(...leaves.map((u) => u.at - killedAt));
    // For the report (no timing assertion): how long after the kill the last leave arrived.
    process.stdout.write(`presence dead-node leave: last of ${MEMBERS} leaves ${latest} ms after SIGKILL (nodeTtl ${FAST.nodeTtl}, heartbeat ${FAST.nodeHeartbeatInterval})\n`);
    expect(await survivor.mesh.getPresence('lobby:kill')).toEqual({ present: [{ id: watcher.connectionId }], states: {} });
  });
});
