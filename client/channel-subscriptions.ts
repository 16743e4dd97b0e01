/** Receives each message published on a subscribed channel. */
export type ChannelCallback = (message: string) => void;

interface Channel {
  callbacks: Set<ChannelCallback>;
  historyLimit?: number;
}

/** The channels a client subscribed to, with their callbacks and history limit (for re-subscribing). */
export class ChannelSubscriptions {
  private readonly channels = new Map<string, Channel>();

  /** `onCallbackError` hears about a callback that threw; the other callbacks still run. */
  constructor(private readonly onCallbackError: (channel: string, error: unknown) => void) {}

  add(name: string, callback: ChannelCallback, historyLimit?: number): void {
    const channel = this.channels.get(name) ?? { callbacks: new Set<ChannelCallback>() };
    channel.callbacks.add(callback);
    if (historyLimit !== undefined) channel.historyLimit = historyLimit;
    this.channels.set(name, channel);
  }

  /** Removes one callback, or all when none is given. True if the channel has no callback left. */
  remove(name: string, callback?: ChannelCallback): boolean {
    const channel = this.channels.get(name);
    if (!channel) return true;
    if (callback) channel.callbacks.delete(callback);
    if (callback && channel.callbacks.size > 0) return false;
    this.channels.delete(name);
    return true;
  }

  deliver(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    for (const callback of [...channel.callbacks]) {
      try {
        callback(message);
      } catch (error) {
        this.onCallbackError(name, error);
      }
    }
  }

  /** What to send again after a reconnect. */
  entries(): Array<{ channel: string; historyLimit?: number }> {
    return [...this.channels].map(([channel, { historyLimit }]) => ({ channel, historyLimit }));
  }
}
