'use strict';
// One client API over the three targets, for the load generator.
const { WebSocket } = require('ws');
const { io } = require('socket.io-client');
const { MeshClient } = require('../dist/client');

const TIMEOUT = 60_000;

async function meshClient(port, clientId, handlers) {
  const url = `ws://127.0.0.1:${port}/mesh${clientId ? `?clientId=${clientId}` : ''}`;
  const client = new MeshClient(url, { shouldReconnect: false, commandTimeoutMs: TIMEOUT });
  if (handlers.notify) client.handle('notify', handlers.notify);
  if (handlers.tick) client.on('tick', (e) => handlers.tick(e.detail));
  await client.connect();
  return {
    id: clientId,
    call: (command, payload) => client.command(command, payload),
    /** nestjs-mesh only (the channel workloads): resolves with the server's subscribe reply. */
    subscribe: (channel, callback) => client.subscribe(channel, callback),
    close: () => client.close(),
  };
}

async function socketioClient(port, _clientId, handlers) {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
  if (handlers.tick) socket.on('tick', handlers.tick);
  if (handlers.notify) socket.on('notify', async (data, ack) => ack(await handlers.notify(data)));
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { id: socket.id, call: (command, payload) => socket.timeout(TIMEOUT).emitWithAck(command, payload ?? {}), close: async () => socket.close() };
}

async function rawClient(port, clientId, handlers) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/${clientId ? `?clientId=${clientId}` : ''}`, { perMessageDeflate: false });
  const pending = new Map();
  let nextId = 1;
  let assigned;
  const connected = new Promise((resolve, reject) => {
    assigned = resolve;
    socket.once('error', reject);
  });
  socket.on('message', async (data) => {
    const frame = JSON.parse(data);
    if (frame.command === 'assign-id') return assigned(frame.payload);
    if (frame.command === 'tick') return handlers.tick?.(frame.payload);
    if (frame.command === 'notify') {
      const result = await handlers.notify(frame.payload);
      return socket.send(JSON.stringify({ id: frame.id, command: 'notify-result', payload: result }));
    }
    const resolve = pending.get(frame.id);
    pending.delete(frame.id);
    resolve?.(frame.payload);
  });
  await connected;
  return {
    id: clientId,
    call: (command, payload) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, command, payload }));
      }),
    close: async () => socket.close(),
  };
}

module.exports = { 'nestjs-mesh': meshClient, 'socket.io': socketioClient, raw: rawClient };
