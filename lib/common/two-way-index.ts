/**
 * A many-to-many relation kept from both sides, so that both questions are one lookup: which
 * members a room has and which rooms a member is in, which connections listen on a channel and
 * which channels a connection listens on. Empty sets are dropped.
 */
export class TwoWayIndex<L, R> {
  private readonly byLeft = new Map<L, Set<R>>();
  private readonly byRight = new Map<R, Set<L>>();

  /** Adds the pair; false if it was there already. */
  add(left: L, right: R): boolean {
    const rights = this.byLeft.get(left);
    if (rights?.has(right)) return false;
    if (rights) rights.add(right);
    else this.byLeft.set(left, new Set([right]));
    const lefts = this.byRight.get(right);
    if (lefts) lefts.add(left);
    else this.byRight.set(right, new Set([left]));
    return true;
  }

  /** Removes the pair; false if it was not there. */
  delete(left: L, right: R): boolean {
    const rights = this.byLeft.get(left);
    if (!rights?.delete(right)) return false;
    if (rights.size === 0) this.byLeft.delete(left);
    const lefts = this.byRight.get(right)!;
    lefts.delete(left);
    if (lefts.size === 0) this.byRight.delete(right);
    return true;
  }

  /** Removes every pair of `left`; returns the rights it had. */
  deleteLeft(left: L): R[] {
    const rights = [...(this.byLeft.get(left) ?? [])];
    for (const right of rights) this.delete(left, right);
    return rights;
  }

  /** Removes every pair of `right`; returns the lefts it had. */
  deleteRight(right: R): L[] {
    const lefts = [...(this.byRight.get(right) ?? [])];
    for (const left of lefts) this.delete(left, right);
    return lefts;
  }

  has(left: L, right: R): boolean {
    return this.byLeft.get(left)?.has(right) ?? false;
  }

  rightsOf(left: L): ReadonlySet<R> | undefined {
    return this.byLeft.get(left);
  }

  leftsOf(right: R): ReadonlySet<L> | undefined {
    return this.byRight.get(right);
  }
}
