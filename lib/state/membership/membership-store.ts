/**
 * Which nodes form the cluster: node ids, heartbeats, the leader lock, and dead nodes whose
 * cleanup is pending. Implementations: Redis (many nodes) and memory (one process, always alive
 * and leader). `NodeMembership` (cluster/) runs the heartbeat and the cleanup on top of it.
 */
export interface MembershipStore {
  /** This node's id; valid after `join`. */
  readonly nodeId: string;
  /**
   * Takes a new node id (never reused while the store keeps its data), runs `beforeListed` with
   * it (the node subscribes its own channel there, so that it misses nothing sent to it), then
   * lists the node with its first heartbeat, valid for `ttlMs`. Called again to rejoin after
   * being fenced; then the old id is simply abandoned.
   */
  join(ttlMs: number, beforeListed: (nodeId: string) => Promise<void>): Promise<string>;
  /**
   * Renews this node's heartbeat for `ttlMs`. False when the cluster no longer lists it (it was
   * declared dead, or the store lost its data) or its id now belongs to another process: fence.
   */
  heartbeat(ttlMs: number): Promise<boolean>;
  /** Takes or keeps the leader role for `ttlMs`; true while this node leads. */
  lead(ttlMs: number): Promise<boolean>;
  /** Gives up the leader role if this node holds it. */
  resign(): Promise<void>;
  /** Listed nodes whose heartbeat expired. */
  findDeadNodes(): Promise<string[]>;
  /** Takes a node out of the cluster; with `dead`, records it as dead with its cleanup pending, in the same step. */
  unlist(nodeId: string, options?: { dead?: boolean }): Promise<void>;
  /** Dead nodes whose cleanup was not acknowledged yet. */
  pendingDeadNodes(): Promise<string[]>;
  acknowledgeDeadNode(nodeId: string): Promise<void>;
}
