import { Injectable, Logger } from '@nestjs/common';
import { decodeNodeMessage, isNodeMessage, NodeMessageKind, type NodeMessage, type NodeMessageOf } from './node-message';

type Handler = (message: NodeMessage) => void;

/**
 * Hands each node message to the component that owns its kind: deliveries and room index changes
 * to `MessageRouter`, requests, replies and node broadcasts to `NodeBus` (a batch's messages one by one). It runs inside the Redis
 * client's message callback: a malformed message is dropped and logged, and a handler's failure is
 * logged, never thrown there.
 */
@Injectable()
export class NodeMessageDispatcher {
  private readonly logger = new Logger('MeshNodeMessages');
  private readonly handlers = new Map<NodeMessageKind, Handler>();

  on<K extends NodeMessageKind>(kind: K, handler: (message: NodeMessageOf<K>) => void): void {
    if (this.handlers.has(kind)) throw new Error(`Node messages of kind "${kind}" already have a handler`);
    this.handlers.set(kind, handler as Handler);
  }

  handle(text: string): void {
    const message = decodeNodeMessage(text);
    if (!isNodeMessage(message)) {
      this.logger.warn(`Dropped a malformed node message (${message.problem}): ${JSON.stringify(text.slice(0, 60))}`);
      return;
    }
    // A batch is its messages, in order, each handled as if it had come alone.
    if (message.kind === NodeMessageKind.BATCH) for (const inner of message.messages) this.dispatch(inner);
    else this.dispatch(message);
  }

  private dispatch(message: NodeMessage): void {
    const handler = this.handlers.get(message.kind);
    if (!handler) {
      this.logger.warn(`Dropped a node message of kind "${message.kind}": nothing here handles it`);
      return;
    }
    try {
      handler(message);
    } catch (error) {
      this.logger.error(`A node message of kind "${message.kind}" from node ${message.origin} failed: ${(error as Error).message}`);
    }
  }
}
