/**
 * The code of the socket worker thread (`WorkerTransport`), run with `new Worker(code, { eval: true })`.
 *
 * It is a string on purpose: the same text runs whether this package is loaded from its `.ts`
 * sources (ts-jest) or from compiled `dist/`, with no file to locate and nothing for a test
 * coverage tool to instrument. Keep it plain ES2022 JavaScript with no imports but Node's own
 * modules and `ws` (resolved from this package through `workerData.requireFrom`; Node's own
 * WebSocket when a bundle left `ws` out).
 *
 * Messages from the main thread: `open {sid, url, protocols, headers, syncId?, awaitCommand?}`
 * (with `syncId`, the first frame whose command is `awaitCommand` is the sync reply), `send {sid, data}`,
 * `send-sync {sid, id, data}`, `cancel-sync {id}`, `close {sid, code, reason}`, `terminate {sid}`.
 * Messages to the main thread: `open {sid}`, `message {sid, data}`, `close {sid, code, reason, failure?}`.
 * The reply to `send-sync` (the inbound frame with that id, or `lost` if the socket closes) goes
 * to `workerData.syncPort` instead, followed by `Atomics.add` + `Atomics.notify` on `workerData.signal`,
 * so the blocked main thread wakes up and reads it with `receiveMessageOnPort`.
 */
export const SOCKET_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('worker_threads');
const requireFromPackage = require('module').createRequire(workerData.requireFrom);
const syncPort = workerData.syncPort;
const signal = new Int32Array(workerData.signal);
const sockets = new Map();
let syncWait = null;

function webSocketClass() {
  try {
    return requireFromPackage('ws').WebSocket;
  } catch {
    // Bundled without ws beside it: Node's own WebSocket (it takes headers in an options object).
    if (globalThis.WebSocket) return null;
    throw new Error('No WebSocket in the socket worker: install the ws package, or run Node.js 22 or later');
  }
}

/** A field of a frame's JSON (undefined when the text is not a JSON object). */
function fieldOf(text, key) {
  try {
    const frame = JSON.parse(text);
    return frame !== null && typeof frame === 'object' ? frame[key] : undefined;
  } catch {
    return undefined;
  }
}

function replySync(message) {
  syncWait = null;
  syncPort.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function open(sid, url, protocols, headers, sync) {
  let socket;
  let opened = false;
  let failure = {};
  try {
    const WsClass = webSocketClass();
    socket = WsClass ? new WsClass(url, protocols, headers ? { headers } : undefined) : new globalThis.WebSocket(url, headers ? { protocols, headers } : protocols);
  } catch (err) {
    if (sync) replySync({ kind: 'lost', id: sync.id });
    parentPort.postMessage({ type: 'close', sid, code: 1006, reason: '', failure: { message: String(err && err.message) } });
    return;
  }
  if (sync) syncWait = { sid, id: sync.id, awaitCommand: sync.awaitCommand };
  sockets.set(sid, socket);
  if (typeof socket.once === 'function') {
    socket.once('unexpected-response', (req, res) => {
      failure = { message: 'Server refused the WebSocket upgrade with HTTP ' + res.statusCode, status: res.statusCode };
      socket.terminate();
    });
  }
  socket.onopen = () => {
    opened = true;
    parentPort.postMessage({ type: 'open', sid });
  };
  socket.onmessage = (event) => {
    if (typeof event.data !== 'string') return;
    const waited = syncWait !== null && syncWait.sid === sid && (syncWait.awaitCommand ? fieldOf(event.data, 'command') === syncWait.awaitCommand : fieldOf(event.data, 'id') === syncWait.id);
    if (waited) {
      replySync({ kind: 'reply', id: syncWait.id, data: event.data });
    } else {
      parentPort.postMessage({ type: 'message', sid, data: event.data });
    }
  };
  socket.onerror = (event) => {
    if (failure.message === undefined) failure.message = event && (event.message || (event.error && event.error.message));
  };
  socket.onclose = (event) => {
    sockets.delete(sid);
    if (syncWait !== null && syncWait.sid === sid) replySync({ kind: 'lost', id: syncWait.id });
    parentPort.postMessage({ type: 'close', sid, code: event.code, reason: event.reason, failure: opened ? undefined : failure });
  };
}

parentPort.on('message', (message) => {
  const socket = sockets.get(message.sid);
  switch (message.type) {
    case 'open':
      open(message.sid, message.url, message.protocols, message.headers, message.syncId ? { id: message.syncId, awaitCommand: message.awaitCommand } : undefined);
      break;
    case 'send':
      if (socket && socket.readyState === 1) socket.send(message.data);
      break;
    case 'send-sync':
      if (socket && socket.readyState === 1) {
        syncWait = { sid: message.sid, id: message.id };
        socket.send(message.data);
      } else {
        replySync({ kind: 'lost', id: message.id });
      }
      break;
    case 'cancel-sync':
      if (syncWait !== null && syncWait.id === message.id) syncWait = null;
      break;
    case 'close':
      if (socket && socket.readyState !== 3) socket.close(message.code, message.reason);
      break;
    case 'terminate':
      if (socket) {
        if (typeof socket.terminate === 'function') socket.terminate();
        else socket.close();
      }
      break;
  }
});
`;
