import { membershipEventText, stateEventText } from '../../presence/presence-event';
import type { RedisConnections } from '../redis/redis-connections';
import { PRESENCE_CLEANUP_BATCH, type NodePresenceRemoval, type PresenceEnter, type PresenceEntered, type PresenceSnapshot, type PresenceStore, type StoredPresenceState } from './presence-store';

/** "<connection>\n<digest>\n<metadata JSON>" → its parts. */
function decodeMember(entry: string): { connectionId: string; metadataText: string } {
  const first = entry.indexOf('\n');
  const second = entry.indexOf('\n', first + 1);
  return { connectionId: entry.slice(0, first), metadataText: entry.slice(second + 1) };
}

/** "<expiresAt>\n<state JSON>" → its parts. */
function decodeState(entry: string): StoredPresenceState {
  const newline = entry.indexOf('\n');
  return { expiresAt: Number(entry.slice(0, newline)), text: entry.slice(newline + 1) };
}

/**
 * Presence in Redis (standalone or Cluster). Per room, in its `{r:<room>}` slot: `:present`
 * (id → entry) and `:states`; each script that changes them publishes the event on the room's
 * presence topic (same slot: SPUBLISH on a cluster) in the same step. Per connection
 * `{c:<id>}:presence` (room → id held) and per node `{n:<node>}:presence` (its connections
 * with presence), written before the room's entry and removed after it, so a cleanup always
 * finds what a crash left behind. A read of a room is one script call, whatever its size.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly redis: RedisConnections) {}

  private get commands() {
    return this.redis.commands;
  }

  private get publish(): string {
    return this.redis.clustered ? 'SPUBLISH' : 'PUBLISH';
  }

  private roomKeys(room: string): [string, string] {
    return [this.redis.keys.roomPresence(room), this.redis.keys.roomPresenceStates(room)];
  }

  private channel(room: string): string {
    return this.redis.keys.topicChannel({ kind: 'presence', name: room });
  }

  async enter({ room, connectionId, nodeId, secretDigest, metadataText, claim, held }: PresenceEnter): Promise<PresenceEntered> {
    const keys = this.redis.keys;
    // Indexed first, with the identity it expects to hold (corrected below if it got another):
    // a crash after this leaves an index entry that a cleanup resolves, never an unindexed member.
    const expected = held ?? claim?.id ?? connectionId;
    await this.redis.inOrder(
      () => this.commands.sadd(keys.nodePresence(nodeId), connectionId),
      () => this.commands.hset(keys.connectionPresence(connectionId), room, expected),
    );
    const [outcome, id, expiry] = await this.redis.scripts.run<[PresenceEntered['outcome'], string, string]>('presence-enter', this.roomKeys(room), [
      connectionId,
      secretDigest,
      metadataText,
      claim?.id ?? '',
      claim?.secretDigest ?? '',
      this.publish,
      this.channel(room),
      membershipEventText('join', room, connectionId),
      held ?? '',
    ]);
    if (id !== expected) await this.commands.hset(keys.connectionPresence(connectionId), room, id);
    return outcome === 'resumed' && expiry !== '' ? { outcome, id, stateExpiresAt: Number(expiry) } : { outcome, id };
  }

  async leave(room: string, id: string, connectionId: string): Promise<boolean> {
    const left = await this.redis.scripts.run<number>('presence-leave', this.roomKeys(room), [id, connectionId, this.publish, this.channel(room), membershipEventText('leave', room, id)]);
    return left === 1;
  }

  async setState(room: string, id: string, connectionId: string, stateText: string, expiresAt: number, silent: boolean): Promise<boolean> {
    const args = [id, connectionId, expiresAt, stateText, silent ? '' : this.publish, this.channel(room), silent ? '' : stateEventText(room, id, stateText)];
    return (await this.redis.scripts.run<number>('presence-set-state', this.roomKeys(room), args)) === 1;
  }

  async clearState(room: string, id: string, connectionId: string): Promise<boolean> {
    return (await this.redis.scripts.run<number>('presence-clear-state', this.roomKeys(room), [id, connectionId, '', this.publish, this.channel(room), stateEventText(room, id, 'null')])) === 1;
  }

  async expireState(room: string, id: string, expiresAt: number): Promise<boolean> {
    return (await this.redis.scripts.run<number>('presence-clear-state', this.roomKeys(room), [id, '', expiresAt, this.publish, this.channel(room), stateEventText(room, id, 'null')])) === 1;
  }

  async refreshMetadata(room: string, id: string, connectionId: string, metadataText: string): Promise<boolean> {
    return (await this.redis.scripts.run<number>('presence-refresh', [this.redis.keys.roomPresence(room)], [id, connectionId, metadataText])) === 1;
  }

  async read(room: string): Promise<PresenceSnapshot> {
    const [members, states] = await this.redis.scripts.run<[string[], string[]]>('presence-read', this.roomKeys(room));
    const snapshot: PresenceSnapshot = { members: new Map(), states: new Map() };
    for (let i = 0; i < members.length; i += 2) snapshot.members.set(members[i], decodeMember(members[i + 1]));
    const now = Date.now();
    for (let i = 0; i < states.length; i += 2) {
      const state = decodeState(states[i + 1]);
      // Redis 7.0 has no per-field expiry: an expired state is hidden here until its timer clears it.
      if ((state.expiresAt === 0 || state.expiresAt > now) && snapshot.members.has(states[i])) snapshot.states.set(states[i], state);
    }
    return snapshot;
  }

  async clearRoom(room: string): Promise<void> {
    await this.redis.scripts.run<number>('presence-clear-room', this.roomKeys(room), [this.publish, this.channel(room), JSON.stringify(room), Date.now()]);
  }

  async identities(connectionId: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.commands.hgetall(this.redis.keys.connectionPresence(connectionId))));
  }

  async unindex(connectionId: string, room: string): Promise<void> {
    await this.commands.hdel(this.redis.keys.connectionPresence(connectionId), room);
  }

  async removeConnection(connectionId: string, nodeId: string): Promise<void> {
    const identities = await this.identities(connectionId);
    await Promise.all(
      [...identities].map(async ([room, id]) => {
        await this.leave(room, id, connectionId);
        // Its own id too: a claim that failed may have left the index naming the claimed one.
        if (id !== connectionId) await this.leave(room, connectionId, connectionId);
      }),
    );
    const keys = this.redis.keys;
    await this.redis.inOrder(
      () => this.commands.del(keys.connectionPresence(connectionId)),
      () => this.commands.srem(keys.nodePresence(nodeId), connectionId),
    );
  }

  /** Read, not popped, so a leader that dies mid-step loses nothing; the next one does it again. */
  async removeNodePresence(nodeId: string, batch = PRESENCE_CLEANUP_BATCH): Promise<NodePresenceRemoval> {
    const setKey = this.redis.keys.nodePresence(nodeId);
    const ids = (await this.commands.srandmember(setKey, batch)) as string[];
    await Promise.all(ids.map((id) => this.removeConnection(id, nodeId)));
    return { removed: ids.length, left: await this.commands.scard(setKey) };
  }
}
