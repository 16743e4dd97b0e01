import { decodeNodeMessage, encodeNodeMessage, NodeMessageKind, type NodeMessage } from '../../lib/cluster/node-message';

describe('node messages', () => {
  const frame = '{"command":"tick","payload":{"n":1}}';
  const messages: NodeMessage[] = [
    { kind: NodeMessageKind.SEND, origin: '3', ids: ['a', 'b'], frame },
    { kind: NodeMessageKind.BROADCAST, origin: '3', exclude: [], frame },
    { kind: NodeMessageKind.BROADCAST, origin: '3', exclude: ['a'], frame },
    { kind: NodeMessageKind.CLOSE, origin: '3', ids: ['a'], code: 4001 },
    { kind: NodeMessageKind.ROOM, origin: '3', room: 'odd:\nroom, with: anything', exclude: ['a'], frame },
    { kind: NodeMessageKind.ROOM_CLEARED, origin: '3', room: 'lobby' },
    { kind: NodeMessageKind.REQUEST, origin: '12', requestId: 'k9', body: '{"type":"x","data":null,"timeoutMs":5}' },
    { kind: NodeMessageKind.REPLY, origin: '12', requestId: 'k9', body: '{"data":1}' },
    { kind: NodeMessageKind.NODE_BROADCAST, origin: '12', body: '{"type":"cache:flush","data":{}}' },
    {
      kind: NodeMessageKind.BATCH,
      origin: '12',
      messages: [
        { kind: NodeMessageKind.REQUEST, origin: '12', requestId: 'k9', body: '{"type":"x","data":"1:\\n2","timeoutMs":5}' },
        { kind: NodeMessageKind.REPLY, origin: '12', requestId: 'ka', body: '{"data":"é\\u2028"}' },
      ],
    },
  ];

  it.each(messages.map((m) => [m.kind, m] as const))('%s survives encode and decode', (_kind, message) => {
    expect(decodeNodeMessage(encodeNodeMessage(message))).toEqual(message);
  });

  it.each([
    ['no newlines', 'not four lines'],
    ['2 send\n1\na\nx', 'version "2" (this node speaks 1)'],
    ['1 teleport\n1\na\nx', 'unknown kind "teleport"'],
    ['1 send\nnode-1\na\nx', 'origin "node-1" is not a node id'],
    ['1 send\n1\na,,b\nx', 'an empty connection id'],
    ['1 send\n1\n\nx', 'send to nobody'],
    ['1 close\n1\na\n5000', 'close code "5000"'],
    ['1 close\n1\na\n1006', 'close code "1006"'],
    ['1 room\n1\n\n9:short', 'a malformed room body'],
    ['1 room\n1\n\n0:x', 'a malformed room body'],
    ['1 room-cleared\n1\n\n', 'room-cleared without a room'],
    ['1 request\n1\na,b\n{}', 'request without one request id'],
    ['1 request\n1\n\n{}', 'request without one request id'],
    ['1\n1\na\nx', 'unknown kind undefined'],
    ['2\n1\na\nx', 'version "2" (this node speaks 1)'],
    ['1 send\n\na\nx', 'origin "" is not a node id'],
    ['1 send\n123456789012345678901\na\nx', 'origin "123456789012345678901" is not a node id'],
    ['1 send\n1a\na\nx', 'origin "1a" is not a node id'],
    ['1 batch\n1\n\n', 'an empty batch'],
    ['1 batch\n1\n\nx:1 reply', 'a malformed batch body'],
    ['1 batch\n1\n\n99:1 reply\n1\nk\n{}', 'a malformed batch body'],
    ['1 batch\n1\n\n14:1 reply\n1\nk\n{}7:garbage', 'a batched message: not four lines'],
    ['1 batch\n1\n\n12:1 send\n1\na\nx', 'a batched message of kind "send"'],
    ['1 batch\n1\n\n14:1 reply\n2\nk\n{}', 'a batched message from another origin'],
  ])('refuses %j: %s', (text, problem) => {
    expect(decodeNodeMessage(text)).toEqual({ problem });
  });
});
