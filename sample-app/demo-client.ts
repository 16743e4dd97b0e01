/**
 * A demo client for the sample app: signs in as a user (`POST /login`), connects with the token,
 * answers `notify` invokes, and prints what it receives.
 * Run: node dist/sample-app/demo-client.js alice [http://localhost:3000]
 */
import { MeshClient } from '../client';

async function main(): Promise<void> {
  const userId = process.argv[2] ?? `demo-${process.pid}`;
  const base = (process.argv[3] ?? 'http://localhost:3000').replace(/\/$/, '');
  const response = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (!response.ok) throw new Error(`Login failed: HTTP ${response.status} ${await response.text()}`);
  const { token } = (await response.json()) as { token: string };
  const client = new MeshClient(`${base.replace(/^http/, 'ws')}/mesh?token=${encodeURIComponent(token)}`);
  client.handle('notify', async (data) => {
    console.log(`[${userId}] notify:`, data);
    return { received: data };
  });
  client.on('announcement', (e) => console.log(`[${userId}] announcement:`, e.detail));
  client.on('latency', (e) => console.log(`[${userId}] latency: ${e.detail.latency} ms`));
  await client.connect();
  console.log(`[${userId}] connected as ${client.connectionId}; clients:`, await client.command('clients'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
