/**
 * Numeric request ids. Ids count up from 1 and wrap at `Number.MAX_SAFE_INTEGER`; an id still in
 * flight is skipped, so ids are unique among in-flight requests.
 */
export class IdAllocator {
  private last = 0;

  next(inUse: (id: number) => boolean = () => false): number {
    do {
      this.last = this.last >= Number.MAX_SAFE_INTEGER ? 1 : this.last + 1;
    } while (inUse(this.last));
    return this.last;
  }
}
