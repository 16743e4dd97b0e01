import { Injectable } from '@nestjs/common';

/** What a feature (presence) does when room membership changes, however it changed (a client's join, `addToRoom`...). */
export interface RoomHook {
  /**
   * A connection (of node `owner`) joined a room. `claim` is what the client sent with a
   * `<prefix>/join-room`, if anything; the fields returned are added to that join's reply.
   */
  joined?(room: string, connectionId: string, owner: string, claim: unknown): Promise<Record<string, unknown> | undefined>;
  /** A connection left a room (explicitly: a closed connection is the connection events' business). */
  left?(room: string, connectionId: string): Promise<void>;
  /** A room was emptied. */
  cleared?(room: string): Promise<void>;
}

/** The hooks `RoomManager` runs after each membership change it made, in the order added. */
@Injectable()
export class RoomHooks {
  private readonly hooks: RoomHook[] = [];

  add(hook: RoomHook): void {
    this.hooks.push(hook);
  }

  async joined(room: string, connectionId: string, owner: string, claim: unknown): Promise<Record<string, unknown>> {
    const extra: Record<string, unknown> = {};
    for (const hook of this.hooks) Object.assign(extra, await hook.joined?.(room, connectionId, owner, claim));
    return extra;
  }

  async left(room: string, connectionId: string): Promise<void> {
    for (const hook of this.hooks) await hook.left?.(room, connectionId);
  }

  async cleared(room: string): Promise<void> {
    for (const hook of this.hooks) await hook.cleared?.(room);
  }
}
