'use strict';
// The raw floor: a plain ws server answering {id, command, payload}, nodes joined by plain Redis
// PUBLISH/SUBSCRIBE. No framework, no validation, no registry beyond two hashes (connection →
// node, client id → node): the least any framework can cost for the same work.
const { WebSocketServer } = require('ws');
const { Redis } = require('ioredis');
const { randomUUID } = require('node:crypto');
const { fanout, driveInvokes, INVOKE_TIMEOUT_MS } = require('./drive');

async function main() {
  const port = Number(process.env.PORT);
  const prefix = process.env.KEY_PREFIX;
  const nodeId = String(port);
  const redis = new Redis(process.env.REDIS_URL);
  const sub = redis.duplicate();
  const room = new Set();
  const byClientId = new Map();
  const waiting = new Map();
  const roomChannel = `${prefix}raw:room`;
  const myChannel = `${prefix}raw:node:${nodeId}`;

  const sendRoomLocal = (text) => {
    for (const socket of room) socket.send(text);
  };

  await sub.subscribe(roomChannel, myChannel);
  sub.on('message', (channel, message) => {
    if (channel === roomChannel) {
      const cut = message.indexOf('|');
      if (message.slice(0, cut) !== nodeId) sendRoomLocal(message.slice(cut + 1));
      return;
    }
    const msg = JSON.parse(message);
    if (msg.reply) {
      const pending = waiting.get(msg.rid);
      if (pending) {
        waiting.delete(msg.rid);
        pending(msg.result);
      }
    } else {
      const socket = byClientId.get(msg.clientId);
      socket.pendingInvokes.set(msg.rid, (result) => redis.publish(`${prefix}raw:node:${msg.from}`, JSON.stringify({ reply: true, rid: msg.rid, result })));
      socket.send(JSON.stringify({ id: msg.rid, command: 'notify', payload: msg.data }));
    }
  });

  // Owner lookups are remembered, as nestjs-mesh remembers routes: the floor must not pay a cost the
  // framework avoids. (No invalidation: in this workload clients never move.)
  const owners = new Map();
  const invoke = async (clientId, timeoutMs) => {
    let owner = owners.get(clientId);
    if (owner === undefined) owners.set(clientId, (owner = await redis.hget(`${prefix}raw:clients`, clientId)));
    const rid = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(rid);
        reject(new Error('timeout'));
      }, timeoutMs);
      waiting.set(rid, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      redis.publish(`${prefix}raw:node:${owner}`, JSON.stringify({ rid, from: nodeId, clientId, data: { n: 1 } }));
    });
  };

  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
  wss.on('connection', (socket, req) => {
    socket.pendingInvokes = new Map();
    const clientId = new URL(req.url, 'http://x').searchParams.get('clientId');
    if (clientId) byClientId.set(clientId, socket);
    // A connect does what a connect must in a server whose connections are shared state, in the
    // least code: one write to Redis (the connection's node, and the client's when it has an id),
    // then the connection's id to the client, which is connected once it has it (as a MeshClient
    // is once it has `assign-id`).
    const connectionId = randomUUID();
    const stored = redis.hset(`${prefix}raw:connections`, connectionId, nodeId);
    if (clientId) redis.hset(`${prefix}raw:clients`, clientId, nodeId);
    stored.then(() => socket.send(JSON.stringify({ command: 'assign-id', payload: connectionId })));
    socket.on('close', () => {
      room.delete(socket);
      redis.hdel(`${prefix}raw:connections`, connectionId);
    });
    socket.on('message', async (data) => {
      const { id, command, payload } = JSON.parse(data);
      let result;
      if (command === 'echo') result = payload;
      else if (command === 'join') result = room.add(socket) && true;
      else if (command === 'fanout') {
        result = await fanout(async (tick) => {
          const text = JSON.stringify({ command: 'tick', payload: tick });
          sendRoomLocal(text);
          await redis.publish(roomChannel, `${nodeId}|${text}`);
        }, payload);
      } else if (command === 'invoke-drive') result = await driveInvokes((target) => invoke(target, payload.timeoutMs), payload);
      else if (command === 'invoke-client') result = await invoke(payload.target, INVOKE_TIMEOUT_MS).catch((error) => ({ error: error.message }));
      else if (command === 'notify-result') {
        const answer = socket.pendingInvokes.get(id);
        socket.pendingInvokes.delete(id);
        return answer?.(payload);
      }
      socket.send(JSON.stringify({ id, payload: result }));
    });
  });
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
