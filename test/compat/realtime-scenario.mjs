// Runs the published @prsm/realtime client (ESM only, so in its own Node process) against a
// server given by URL, and prints one JSON line with what it observed. Usage:
//   node realtime-scenario.mjs <scenario> <ws-url>
import { RealtimeClient, runScenario, waitFor } from './scenario-kit.mjs';

const [scenario, url] = process.argv.slice(2);

async function basics() {
  const client = new RealtimeClient(url, { pingTimeout: 5000 });
  const out = {};
  await client.connect();
  out.connectionId = client.connectionId;
  out.status = client.status;
  out.echo = await client.command('echo', 'Hello, World!');
  out.thrown = await client.command('throws', {});
  out.missing = await client.command('unknown-command', {});
  const messages = [];
  out.subscribe = await client.subscribeChannel('chat:lobby', (m) => messages.push(m), { historyLimit: 2 });
  out.unexposed = await client.subscribeChannel('secret', () => undefined);
  await client.command('publish', { channel: 'chat:lobby', message: 'live' });
  await waitFor(() => messages.includes('live'), 'the live message');
  out.messages = messages;
  out.history = await client.getChannelHistory('chat:lobby', { limit: 1 });
  const notices = [];
  client.on('notice', (payload) => notices.push(payload));
  out.join = await client.joinRoom('open:lobby');
  await client.command('notify-room', { roomName: 'open:lobby' });
  await waitFor(() => notices.length === 1, 'the room notice');
  out.notices = notices;
  out.leave = await client.leaveRoom('open:lobby');
  out.closedRoom = await client.joinRoom('closed');
  const latencies = [];
  let pings = 0;
  client.on('latency', (ms) => latencies.push(ms));
  client.on('ping', () => pings++);
  // Several heartbeat rounds (the test's server pings and measures every 100 ms).
  await waitFor(() => pings > 2 && latencies.length > 2, 'heartbeats');
  out.latencies = latencies;
  out.pings = pings;
  out.statusAfterPings = client.status;
  out.metadata = await client.getConnectionMetadata();
  await client.close();
  return out;
}

async function reconnect() {
  // The server is restarted on the same port by the test while this client waits.
  const client = new RealtimeClient(url, { reconnectInterval: 100, pingTimeout: 5000 });
  await client.connect();
  const firstId = client.connectionId;
  const messages = [];
  await client.subscribeChannel('chat:restart', (m) => messages.push(m), { historyLimit: 0 });
  let reconnected = false;
  client.on('reconnect', () => (reconnected = true));
  console.log(JSON.stringify({ ready: true, firstId }));
  await waitFor(() => reconnected, 'the reconnect', 20000);
  await waitFor(() => client.connectionId && client.connectionId !== firstId, 'a new connection id', 5000);
  console.log(JSON.stringify({ reconnected: true, secondId: client.connectionId }));
  await waitFor(() => messages.includes('after-restart'), 'the message after the restart', 10000);
  await client.close();
  return { firstId, secondId: client.connectionId, messages };
}

async function refused() {
  const client = new RealtimeClient(url, { shouldReconnect: false });
  try {
    await client.connect();
    return { connected: true };
  } catch (error) {
    return { connected: false, code: error.code, status: client.status };
  }
}

const scenarios = { basics, reconnect, refused };
await runScenario(scenarios, scenario);
