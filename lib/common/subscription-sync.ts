import type { Logger } from '@nestjs/common';

/** How a node starts and stops hearing one name (a channel, a room) on the broker. */
export interface SubscriptionTarget {
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
}

/**
 * Keeps a node's broker subscriptions in line with what it wants (`wanted(name)`: it has local
 * subscribers or members), one change at a time per name, so a subscribe and an unsubscribe
 * racing for one name always end in the state wanted last. `sync` resolves once that state is
 * in effect: a message published after a subscribe's `sync` resolved is heard.
 */
export class SubscriptionSync {
  private readonly subscribed = new Set<string>();
  private readonly syncing = new Map<string, Promise<void>>();

  constructor(
    private readonly target: SubscriptionTarget,
    private readonly wanted: (name: string) => boolean,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  isSubscribed(name: string): boolean {
    return this.subscribed.has(name);
  }

  /** How many names are subscribed now. */
  get size(): number {
    return this.subscribed.size;
  }

  sync(name: string): Promise<void> {
    const previous = this.syncing.get(name) ?? Promise.resolve();
    const next = previous.then(async () => {
      const wanted = this.wanted(name);
      if (wanted && !this.subscribed.has(name)) {
        await this.target.subscribe(name);
        this.subscribed.add(name);
      } else if (!wanted && this.subscribed.has(name)) {
        this.subscribed.delete(name);
        await this.target.unsubscribe(name);
      }
    });
    const settled = next.catch((error: Error) => this.logger.warn(`Subscription change for ${this.what} "${name}" failed: ${error.message}`));
    this.syncing.set(name, settled);
    void settled.then(() => {
      if (this.syncing.get(name) === settled) this.syncing.delete(name);
    });
    return next;
  }
}
