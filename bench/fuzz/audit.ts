import type { FuzzConnection } from './fuzz-connection';

interface Presence {
  success?: boolean;
  present?: Array<{ id?: unknown }>;
}

/**
 * What the node must have forgotten once every fuzz connection closed: no room lists a member
 * that is gone, and the client list holds only the connections still open. Cleanup may trail a
 * close (in Redis mode it is a few round trips), so this asks again until `timeoutMs`.
 */
export async function auditLeftovers(auditor: FuzzConnection, prefix: string, rooms: readonly string[], liveClients: readonly string[], timeoutMs: number): Promise<string[]> {
  const self = auditor.connectionId!;
  const live = new Set([...liveClients, self]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leftovers: string[] = [];
    for (const room of rooms) {
      const reply = await auditor.request(`${prefix}/join-room`, JSON.stringify({ roomName: room }));
      const { success, present = [] } = (reply.payload ?? {}) as Presence;
      const stale = present.map((member) => member.id).filter((id) => id !== self);
      if (success && stale.length) leftovers.push(`room ${JSON.stringify(room)} still lists ${stale.length} closed connection(s): ${stale.slice(0, 3).join(', ')}`);
      await auditor.request(`${prefix}/leave-room`, JSON.stringify({ roomName: room }));
    }
    const clients = (await auditor.request('clients')).payload;
    const gone = Array.isArray(clients) ? clients.map((c: { clientId?: unknown }) => String(c.clientId)).filter((id) => !live.has(id)) : [];
    if (gone.length) leftovers.push(`the client list still holds ${gone.length} closed client(s): ${gone.slice(0, 5).join(', ')}`);
    if (leftovers.length === 0 || Date.now() > deadline) return leftovers;
    // Polling pace while cleanup catches up.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
