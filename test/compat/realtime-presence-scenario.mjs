// Presence scenarios of the published @prsm/realtime client (ESM only, so in its own Node
// process) against two nodes given by URL; prints one JSON line with what it observed. Usage:
//   node realtime-presence-scenario.mjs <scenario> <ws-url of node A> <ws-url of node B>
import { RealtimeClient, runScenario, waitFor } from './scenario-kit.mjs';

const [scenario, urlA, urlB] = process.argv.slice(2);

/** A client that records every presence update its callback gets, and every frame's command name. */
async function watched(url, options = {}) {
  const client = new RealtimeClient(url, { pingTimeout: 5000, ...options });
  const updates = [];
  const commands = [];
  const callback = (update) => void updates.push(update);
  client.on('message', (frame) => commands.push(frame.command));
  await client.connect();
  return { client, updates, commands, callback, events: () => updates.filter((u) => typeof u.type === 'string') };
}

async function presence() {
  const out = {};
  const w = await watched(urlA);
  out.watcherId = w.client.connectionId;
  out.join = await w.client.joinRoom('lobby:rt', w.callback);
  const member = await watched(urlB);
  out.memberId = member.client.connectionId;
  out.memberJoin = await member.client.joinRoom('lobby:rt');
  await waitFor(() => w.events().length === 1, 'join', 5000);
  out.publish = await member.client.publishPresenceState('lobby:rt', { state: { cursor: { x: 100, y: 5 } } });
  out.silent = await member.client.publishPresenceState('lobby:rt', { state: { hidden: true }, silent: true });
  out.afterSilent = await w.client.command('rt/get-presence-state', { roomName: 'lobby:rt' });
  out.expiring = await member.client.publishPresenceState('lobby:rt', { state: { brief: true }, expireAfter: 150 });
  await waitFor(() => w.events().length === 4, 'state, expiring state and its expiry', 5000);
  await member.client.publishPresenceState('lobby:rt', { state: { again: true } });
  out.clear = await member.client.clearPresenceState('lobby:rt');
  await waitFor(() => w.events().length === 6, 'state and its clearing', 5000);
  out.refusals = {
    guarded: await w.client.subscribePresence('vip:rt', () => undefined),
    untracked: await w.client.subscribePresence('open:rt', () => undefined),
    notMember: await w.client.publishPresenceState('lobby:elsewhere', { state: { x: 1 } }),
    falsy: await member.client.publishPresenceState('lobby:rt', { state: 0 }),
    untrackedState: await w.client.command('rt/get-presence-state', { roomName: 'open:rt' }),
  };
  out.subscribeAgain = await w.client.command('rt/subscribe-presence', { roomName: 'lobby:rt' });
  await member.client.leaveRoom('lobby:rt');
  await waitFor(() => w.events().length === 7, 'leave', 5000);
  const closer = await watched(urlB);
  out.closerId = closer.client.connectionId;
  await closer.client.joinRoom('lobby:rt');
  await waitFor(() => w.events().length === 8, 'second join', 5000);
  await closer.client.close();
  await waitFor(() => w.events().length === 9, 'leave of a closed connection', 5000);
  out.unsubscribe = await w.client.unsubscribePresence('lobby:rt');
  out.updates = w.updates;
  out.watcherCommands = [...new Set(w.commands)];
  await Promise.all([w.client.close(), member.client.close()]);
  return out;
}

async function reconnect() {
  // The test closes this client's connection on node A from the server; it reconnects by itself.
  const w = await watched(urlA, { reconnectInterval: 100 });
  const inits = [];
  w.callback.init = (present, states) => void inits.push({ present, states });
  const firstId = w.client.connectionId;
  await w.client.joinRoom('lobby:again', w.callback);
  let reconnected = false;
  w.client.on('reconnect', () => (reconnected = true));
  console.log(JSON.stringify({ ready: true, firstId }));
  await waitFor(() => reconnected && w.client.connectionId !== firstId && inits.length > 0, 'reconnect and the presence refresh', 20000);
  const secondId = w.client.connectionId;
  const member = await watched(urlB);
  await member.client.joinRoom('lobby:again');
  await waitFor(() => w.events().some((u) => u.type === 'join' && u.connectionId === member.client.connectionId), 'a join after the reconnect', 5000);
  const result = { firstId, secondId, memberId: member.client.connectionId, inits, updates: w.updates };
  await Promise.all([w.client.close(), member.client.close()]);
  return result;
}

const scenarios = { presence, reconnect };
await runScenario(scenarios, scenario);
