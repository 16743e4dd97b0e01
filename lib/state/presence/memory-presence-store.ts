import { membershipEventText, stateEventText } from '../../presence/presence-event';
import { PRESENCE_CLEANUP_BATCH, type NodePresenceRemoval, type PresenceEnter, type PresenceEntered, type PresenceMember, type PresenceSnapshot, type PresenceStore, type StoredPresenceState } from './presence-store';

interface MemoryMember extends PresenceMember {
  secretDigest: string;
}

interface MemoryRoom {
  members: Map<string, MemoryMember>;
  states: Map<string, StoredPresenceState>;
}

/** Publishes an event on a room's presence topic (the broker's `publishTopic`). */
export type PresencePublish = (room: string, eventText: string) => void;

/** Presence of a single process, with the same rules and events as the Redis store. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly rooms = new Map<string, MemoryRoom>();
  /** connection → room → identity held */
  private readonly held = new Map<string, Map<string, string>>();
  /** node → its connections with presence */
  private readonly byNode = new Map<string, Set<string>>();

  constructor(private readonly publish: PresencePublish) {}

  private room(name: string): MemoryRoom {
    let room = this.rooms.get(name);
    if (!room) this.rooms.set(name, (room = { members: new Map(), states: new Map() }));
    return room;
  }

  private dropIfEmpty(name: string): void {
    const room = this.rooms.get(name);
    if (room && room.members.size === 0 && room.states.size === 0) this.rooms.delete(name);
  }

  private holder(room: string, id: string, connectionId: string): boolean {
    return this.rooms.get(room)?.members.get(id)?.connectionId === connectionId;
  }

  async enter({ room, connectionId, nodeId, secretDigest, metadataText, claim, held }: PresenceEnter): Promise<PresenceEntered> {
    let nodeSet = this.byNode.get(nodeId);
    if (!nodeSet) this.byNode.set(nodeId, (nodeSet = new Set()));
    nodeSet.add(connectionId);
    let identities = this.held.get(connectionId);
    if (!identities) this.held.set(connectionId, (identities = new Map()));
    const members = this.room(room).members;
    if (held !== undefined && members.get(held)?.connectionId === connectionId) {
      identities.set(room, held);
      return { outcome: 'present', id: held };
    }
    const claimed = claim ? members.get(claim.id) : undefined;
    if (claim && claimed && claimed.secretDigest === claim.secretDigest) {
      members.set(claim.id, { connectionId, secretDigest: claimed.secretDigest, metadataText });
      identities.set(room, claim.id);
      const state = this.rooms.get(room)?.states.get(claim.id);
      return state ? { outcome: 'resumed', id: claim.id, stateExpiresAt: state.expiresAt } : { outcome: 'resumed', id: claim.id };
    }
    identities.set(room, connectionId);
    if (members.has(connectionId)) return { outcome: 'present', id: connectionId };
    members.set(connectionId, { connectionId, secretDigest, metadataText });
    this.publish(room, membershipEventText('join', room, connectionId));
    return { outcome: 'joined', id: connectionId };
  }

  async leave(room: string, id: string, connectionId: string): Promise<boolean> {
    if (!this.holder(room, id, connectionId)) return false;
    const entry = this.rooms.get(room)!;
    entry.members.delete(id);
    entry.states.delete(id);
    this.dropIfEmpty(room);
    this.publish(room, membershipEventText('leave', room, id));
    return true;
  }

  async setState(room: string, id: string, connectionId: string, stateText: string, expiresAt: number, silent: boolean): Promise<boolean> {
    if (!this.holder(room, id, connectionId)) return false;
    this.room(room).states.set(id, { text: stateText, expiresAt });
    if (!silent) this.publish(room, stateEventText(room, id, stateText));
    return true;
  }

  async clearState(room: string, id: string, connectionId: string): Promise<boolean> {
    if (!this.holder(room, id, connectionId)) return false;
    if (this.rooms.get(room)!.states.delete(id)) this.publish(room, stateEventText(room, id, 'null'));
    return true;
  }

  async expireState(room: string, id: string, expiresAt: number): Promise<boolean> {
    const states = this.rooms.get(room)?.states;
    if (states?.get(id)?.expiresAt !== expiresAt) return false;
    states.delete(id);
    this.dropIfEmpty(room);
    this.publish(room, stateEventText(room, id, 'null'));
    return true;
  }

  async refreshMetadata(room: string, id: string, connectionId: string, metadataText: string): Promise<boolean> {
    const member = this.rooms.get(room)?.members.get(id);
    if (member?.connectionId !== connectionId) return false;
    member.metadataText = metadataText;
    return true;
  }

  async read(room: string): Promise<PresenceSnapshot> {
    const entry = this.rooms.get(room);
    const snapshot: PresenceSnapshot = { members: new Map(), states: new Map() };
    if (!entry) return snapshot;
    for (const [id, { connectionId, metadataText }] of entry.members) snapshot.members.set(id, { connectionId, metadataText });
    const now = Date.now();
    for (const [id, state] of entry.states) if (state.expiresAt === 0 || state.expiresAt > now) snapshot.states.set(id, { ...state });
    return snapshot;
  }

  async clearRoom(room: string): Promise<void> {
    const entry = this.rooms.get(room);
    if (!entry) return;
    this.rooms.delete(room);
    for (const id of entry.members.keys()) this.publish(room, membershipEventText('leave', room, id));
  }

  async identities(connectionId: string): Promise<Map<string, string>> {
    return new Map(this.held.get(connectionId));
  }

  async unindex(connectionId: string, room: string): Promise<void> {
    const identities = this.held.get(connectionId);
    identities?.delete(room);
    if (identities?.size === 0) this.held.delete(connectionId);
  }

  async removeConnection(connectionId: string, nodeId: string): Promise<void> {
    for (const [room, id] of this.held.get(connectionId) ?? []) {
      await this.leave(room, id, connectionId);
      if (id !== connectionId) await this.leave(room, connectionId, connectionId);
    }
    this.held.delete(connectionId);
    this.byNode.get(nodeId)?.delete(connectionId);
    if (this.byNode.get(nodeId)?.size === 0) this.byNode.delete(nodeId);
  }

  async removeNodePresence(nodeId: string, batch = PRESENCE_CLEANUP_BATCH): Promise<NodePresenceRemoval> {
    const ids = [...(this.byNode.get(nodeId) ?? [])].slice(0, batch);
    for (const id of ids) await this.removeConnection(id, nodeId);
    return { removed: ids.length, left: this.byNode.get(nodeId)?.size ?? 0 };
  }
}
