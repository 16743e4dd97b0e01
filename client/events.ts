/**
 * A small event emitter that hands listeners DOM-`CustomEvent`-like objects, so listeners look
 * the same in Node and in browsers: `client.on('user-joined', (e) => e.detail.id)`.
 */

/** What a listener receives: the event name and its data. */
export interface MeshEvent<T = any> {
  readonly type: string;
  readonly detail: T;
}

export type MeshEventListener<T = any> = (event: MeshEvent<T>) => void;

interface Registration {
  listener: MeshEventListener;
  once: boolean;
}

/** Hears about a listener that threw (the emitter itself never rethrows). */
export type ListenerErrorHandler = (event: string, error: unknown) => void;

export class MeshEventEmitter {
  private readonly listeners = new Map<string, Registration[]>();

  constructor(private readonly onListenerError: ListenerErrorHandler = (event, error) => console.error(`Listener for "${event}" threw`, error)) {}

  on(type: string, listener: MeshEventListener): this {
    return this.add(type, listener, false);
  }

  once(type: string, listener: MeshEventListener): this {
    return this.add(type, listener, true);
  }

  /** Removes one registration of `listener` (added with `on` or `once`). */
  off(type: string, listener: MeshEventListener): this {
    const list = this.listeners.get(type);
    const index = list?.findIndex((r) => r.listener === listener) ?? -1;
    if (list && index >= 0) {
      list.splice(index, 1);
      if (list.length === 0) this.listeners.delete(type);
    }
    return this;
  }

  listenerCount(type: string): number {
    return this.listeners.get(type)?.length ?? 0;
  }

  /**
   * Calls the listeners of `type` in registration order. A listener that throws does not stop
   * the others or the client: the error goes to the emitter's listener-error handler.
   */
  emit<T>(type: string, detail: T): void {
    const list = this.listeners.get(type);
    if (!list) return;
    const event: MeshEvent<T> = { type, detail };
    for (const registration of [...list]) {
      if (registration.once) this.off(type, registration.listener);
      try {
        registration.listener(event);
      } catch (err) {
        this.onListenerError(type, err);
      }
    }
  }

  private add(type: string, listener: MeshEventListener, once: boolean): this {
    const list = this.listeners.get(type) ?? [];
    list.push({ listener, once });
    this.listeners.set(type, list);
    return this;
  }
}
