import type { BrokerListener, MeshBroker } from './mesh-broker';

interface History {
  messages: string[];
  expiresAt: number;
}

/**
 * The broker of a single process: messages go to this node's own listener, asynchronously (as
 * Redis pub/sub does, so that ordering is the same in both modes).
 */
export class MemoryBroker implements MeshBroker {
  private listener?: BrokerListener;
  private nodeId?: string;
  private readonly channels = new Set<string>();
  private readonly rooms = new Set<string>();
  private readonly history = new Map<string, History>();
  private historyWrites = 0;
  readonly listening = true;

  async start(listener: BrokerListener): Promise<void> {
    this.listener = listener;
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }

  async listenAsNode(nodeId: string): Promise<void> {
    this.nodeId = nodeId;
  }

  async unlistenNode(nodeId: string): Promise<void> {
    if (this.nodeId === nodeId) this.nodeId = undefined;
  }

  async publishToNode(nodeId: string, message: string): Promise<number> {
    if (nodeId !== this.nodeId) return 0;
    this.later(() => this.listener?.onNodeMessage(message));
    return 1;
  }

  async publishToAll(message: string): Promise<void> {
    this.later(() => this.listener?.onNodeMessage(message));
  }

  async publishToRoom(room: string, message: string): Promise<void> {
    if (this.rooms.has(room)) this.later(() => this.listener?.onNodeMessage(message));
  }

  async listenToRoom(room: string): Promise<void> {
    this.rooms.add(room);
  }

  async unlistenRoom(room: string): Promise<void> {
    this.rooms.delete(room);
  }

  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history > 0) {
      const kept = this.liveHistory(channel);
      // As in Redis: a push keeps the expiry a list already has; a TTL given now replaces it.
      const expiresAt = historyTtlMs > 0 ? Date.now() + historyTtlMs : (kept?.expiresAt ?? Infinity);
      this.history.set(channel, { messages: [message, ...(kept?.messages ?? [])].slice(0, history), expiresAt });
      if (++this.historyWrites % 1000 === 0) this.dropExpiredHistory();
    }
    if (this.channels.has(channel)) this.later(() => this.listener?.onChannelMessage(channel, message));
  }

  async getChannelHistory(channel: string, limit: number): Promise<string[]> {
    return limit > 0 ? (this.liveHistory(channel)?.messages ?? []).slice(0, limit) : [];
  }

  async subscribeChannel(channel: string): Promise<void> {
    this.channels.add(channel);
  }

  async unsubscribeChannel(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  private liveHistory(channel: string): History | undefined {
    const entry = this.history.get(channel);
    if (entry && entry.expiresAt <= Date.now()) {
      this.history.delete(channel);
      return undefined;
    }
    return entry;
  }

  private dropExpiredHistory(): void {
    const now = Date.now();
    for (const [channel, entry] of this.history) if (entry.expiresAt <= now) this.history.delete(channel);
  }

  private later(deliver: () => void): void {
    setImmediate(deliver);
  }
}
