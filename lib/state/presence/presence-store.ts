/** A member as the store keeps it: the connection holding the identity now, and what others may see of it. */
export interface PresenceMember {
  /** The connection that holds this identity now (another one after a takeover). */
  connectionId: string;
  /** Visible metadata captured when it joined, as JSON text ('' for none). */
  metadataText: string;
}

/** A member's state as stored: its JSON text and when it expires (0: never). */
export interface StoredPresenceState {
  text: string;
  expiresAt: number;
}

export interface PresenceSnapshot {
  /** Present identities (connection ids; a reconnected client keeps its first one). */
  members: Map<string, PresenceMember>;
  /** States that have not expired, by identity. */
  states: Map<string, StoredPresenceState>;
}

/** How a connection entered a room's presence. */
export interface PresenceEntered {
  /** `joined`: a new member (its join was published); `present`: it was already; `resumed`: it took over its earlier identity (nothing published). */
  outcome: 'joined' | 'present' | 'resumed';
  /** The identity it holds: its own id, or the one it took over. */
  id: string;
  /** For `resumed`: when the identity's state expires (0 never, undefined when it has none). */
  stateExpiresAt?: number;
}

export interface PresenceEnter {
  room: string;
  connectionId: string;
  nodeId: string;
  /** Digest of the secret given to the connection (a later takeover must show the secret). */
  secretDigest: string;
  /** What other clients may see of the member's metadata, JSON ('' none). */
  metadataText: string;
  /** The identity the connection's index says it holds in the room already (kept if it still does). */
  held?: string;
  /** An identity to take over: its id and the digest of the secret the client showed. */
  claim?: { id: string; secretDigest: string };
}

/** One bounded step of removing a dead node's presence. */
export interface NodePresenceRemoval {
  removed: number;
  left: number;
}

/**
 * Presence of tracked rooms, shared by every node. Every change of a room's presence is
 * published on the room's presence topic by the same atomic step that makes it, so its events
 * are in the order of the changes, whichever node made them. A connection's identities (room →
 * id) and a node's present connections are indexed for cleanup (a closed connection after its
 * grace period, a dead node). Implementations: Redis (many nodes) and memory (one process).
 */
export interface PresenceStore {
  /** Makes a connection present in a room (or lets it take over its earlier identity). */
  enter(entry: PresenceEnter): Promise<PresenceEntered>;
  /** Removes an identity from a room if `connectionId` still holds it; publishes its leave. */
  leave(room: string, id: string, connectionId: string): Promise<boolean>;
  /** Stores an identity's state (refused when `connectionId` does not hold it); publishes it unless `silent`. */
  setState(room: string, id: string, connectionId: string, stateText: string, expiresAt: number, silent: boolean): Promise<boolean>;
  /** Clears a state by its holder (refused if `connectionId` does not hold the identity); publishes `state: null` if there was one. */
  clearState(room: string, id: string, connectionId: string): Promise<boolean>;
  /** Clears a state whose expiry is `expiresAt` (a state published since is kept); publishes `state: null`. */
  expireState(room: string, id: string, expiresAt: number): Promise<boolean>;
  /** Replaces the visible metadata of a member's entry if `connectionId` holds it (nothing is published). */
  refreshMetadata(room: string, id: string, connectionId: string, metadataText: string): Promise<boolean>;
  /** Members and live states of a room, in one read. */
  read(room: string): Promise<PresenceSnapshot>;
  /** Empties a room's presence, publishing a leave per member. */
  clearRoom(room: string): Promise<void>;
  /** The identities a connection holds, room → id. */
  identities(connectionId: string): Promise<Map<string, string>>;
  /** Forgets that a connection holds an identity in a room (after it left). */
  unindex(connectionId: string, room: string): Promise<void>;
  /** Removes a connection from presence everywhere (leaves published) and forgets its index entries. */
  removeConnection(connectionId: string, nodeId: string): Promise<void>;
  /** Removes up to `batch` of a dead node's present connections, as `removeConnection` does; bounded, idempotent. */
  removeNodePresence(nodeId: string, batch?: number): Promise<NodePresenceRemoval>;
}

/** How many connections one step of `removeNodePresence` takes by default. */
export const PRESENCE_CLEANUP_BATCH = 200;
