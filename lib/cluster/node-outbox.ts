import type { MeshBroker } from '../state/broker/mesh-broker';
import { encodeNodeMessage, NodeMessageKind, type BatchedMessage } from './node-message';

/** How the publish that carried a message went: how many nodes received it (0: none holds that id), or its error. */
export type SentCallback = (receivers: number, error?: Error) => void;

interface Queued {
  message: BatchedMessage;
  sent?: SentCallback;
}

/**
 * Node-bus requests and replies on their way to other nodes. What this node sends to one node
 * within one turn of the event loop (the invokes of commands that arrived together, the answers
 * of clients that answered together) leaves as one publish at the end of that turn: under load an
 * invoke costs a share of a publish each way instead of a whole one, here, in Redis and on the
 * receiving node. A message that is alone in its turn goes out as a message of its own, as before
 * batches existed. Messages to one node keep their order.
 */
export class NodeOutbox {
  private readonly queues = new Map<string, Queued[]>();
  private scheduled = false;

  constructor(private readonly broker: MeshBroker) {}

  send(nodeId: string, message: BatchedMessage, sent?: SentCallback): void {
    let queue = this.queues.get(nodeId);
    if (!queue) this.queues.set(nodeId, (queue = []));
    queue.push({ message, sent });
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: the turn's other socket reads (more commands, more
      // answers) run first and join the batch.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const [nodeId, queue] of this.queues) {
      const origin = queue[0].message.origin;
      // A node that took a new id within the turn sends each message under the id it was made with.
      if (queue.length > 1 && queue.every((q) => q.message.origin === origin)) {
        this.publish(nodeId, encodeNodeMessage({ kind: NodeMessageKind.BATCH, origin, messages: queue.map((q) => q.message) }), queue);
      } else {
        for (const q of queue) this.publish(nodeId, encodeNodeMessage(q.message), [q]);
      }
    }
    this.queues.clear();
  };

  private publish(nodeId: string, text: string, carried: readonly Queued[]): void {
    let published: Promise<number>;
    try {
      published = this.broker.publishToNode(nodeId, text);
    } catch (error) {
      published = Promise.reject(error);
    }
    published.then(
      (receivers) => {
        for (const q of carried) q.sent?.(receivers);
      },
      (error: Error) => {
        for (const q of carried) q.sent?.(0, error);
      },
    );
  }
}
