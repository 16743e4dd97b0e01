import type { MembershipStore } from './membership-store';

/** One process: node "1", always listed and always the leader. */
export class MemoryMembershipStore implements MembershipStore {
  readonly nodeId = '1';

  async join(_ttlMs: number, beforeListed: (nodeId: string) => Promise<void>): Promise<string> {
    await beforeListed(this.nodeId);
    return this.nodeId;
  }

  async heartbeat(): Promise<boolean> {
    return true;
  }

  async lead(): Promise<boolean> {
    return true;
  }

  async resign(): Promise<void> {}

  async findDeadNodes(): Promise<string[]> {
    return [];
  }

  async unlist(): Promise<void> {}

  async pendingDeadNodes(): Promise<string[]> {
    return [];
  }

  async acknowledgeDeadNode(): Promise<void> {}
}
