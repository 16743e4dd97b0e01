/**
 * A built-in's reply with work to do right after the reply frame is written: a subscription
 * whose updates must reach the client after the state its reply carries, never before it (a
 * client registers the subscription only when the reply arrives, and would drop or misorder
 * what came first).
 */
export class ReplyThen {
  constructor(
    readonly payload: unknown,
    readonly afterReply: () => void,
  ) {}
}
