/**
 * The demo page's script, bundled for the browser at build time (scripts/build-assets.js) and
 * served by the sample app at `/demo.js`. Plain DOM code: what a front end does with the client.
 */
import { MeshClient, isErrorPayload, type CollectionDiff, type ErrorPayload, type PresenceMember, type PresenceUpdate, type RecordUpdate } from '../../client';

interface Session {
  userId: string;
  token: string;
}

interface ChatMessage {
  from: string;
  text: string;
}

const SESSION_KEY = 'nestjs-mesh-demo-session';
const ROOM = 'lobby';
const DOCUMENT = 'doc:welcome';
/** Typing is sent this long after the last key, not on every key. */
const WRITE_DELAY_MS = 150;

interface SharedDocument {
  text: string;
  by: string;
}

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let client: MeshClient;
let session: Session | null = readSession();
let inRoom = false;
let channel: string | null = null;
let writeTimer: ReturnType<typeof setTimeout> | undefined;
const documents = new Set<string>();

function readSession(): Session | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
    return value && typeof value.userId === 'string' && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

function endpoint(): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/mesh${session ? `?token=${encodeURIComponent(session.token)}` : ''}`;
}

/** Appends a line to a log list, newest last, keeping the last 200. */
function log(listId: string, text: string): void {
  const list = byId<HTMLOListElement>(listId);
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
  while (list.children.length > 200) list.firstElementChild?.remove();
  list.scrollTop = list.scrollHeight;
}

function describeError(payload: ErrorPayload): string {
  return `${payload.code} (${payload.name}): ${payload.error}`;
}

function setStatus(state: string): void {
  const status = byId('status');
  status.textContent = state;
  status.dataset.state = state;
}

function showMessage(raw: string): void {
  let message: ChatMessage;
  try {
    message = JSON.parse(raw) as ChatMessage;
  } catch {
    message = { from: '?', text: raw };
  }
  log('messages', `${message.from}: ${message.text}`);
}

async function refreshStats(): Promise<void> {
  const stats = (await client.command('stats')) as { nodeId: string; connectionId: string };
  byId('node').textContent = stats.nodeId;
  byId('connection-id').textContent = stats.connectionId;
}

async function refreshClients(): Promise<void> {
  const clients = (await client.command('clients')) as Array<{ clientId: string; nodeId: string }>;
  const body = byId('clients');
  body.replaceChildren(
    ...clients.map(({ clientId, nodeId }) => {
      const row = document.createElement('tr');
      row.dataset.clientId = clientId;
      const idCell = document.createElement('td');
      idCell.textContent = clientId;
      const nodeCell = document.createElement('td');
      nodeCell.textContent = nodeId;
      const actionCell = document.createElement('td');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Notify';
      button.className = 'notify';
      button.addEventListener('click', () => void notify(clientId));
      actionCell.append(button);
      row.append(idCell, nodeCell, actionCell);
      return row;
    }),
  );
}

async function notify(clientId: string): Promise<void> {
  const output = byId('invoke-result');
  output.textContent = '…';
  const reply = (await client.command('invoke', { clientId, type: 'notify', data: { text: `hello from ${session?.userId ?? 'an anonymous page'}` } })) as
    | { result: unknown }
    | ErrorPayload;
  output.textContent = isErrorPayload(reply) ? describeError(reply) : JSON.stringify(reply.result);
  output.dataset.outcome = isErrorPayload(reply) ? 'error' : 'ok';
}

/** The shared counter, with a key: a retry after a lost connection counts once. */
async function increment(): Promise<void> {
  const output = byId('counter');
  output.textContent = '…';
  const reply = (await client.command('increment', { key: 'demo' }, { retry: true })) as { value: number } | ErrorPayload;
  output.textContent = isErrorPayload(reply) ? describeError(reply) : String(reply.value);
}

/** Who is in the room (the server tracks presence in `lobby`): presence id → what the page shows. */
const present = new Map<string, string>();

function memberLabel({ id, metadata }: PresenceMember): string {
  const userId = (metadata as { userId?: unknown } | undefined)?.userId;
  return typeof userId === 'string' ? userId : `anonymous ${id.slice(0, 8)}`;
}

function showPresent(members: PresenceMember[]): void {
  present.clear();
  for (const member of members) present.set(member.id, memberLabel(member));
  const list = byId<HTMLUListElement>('presence');
  list.replaceChildren(
    ...[...present].map(([id, label]) => {
      const item = document.createElement('li');
      item.dataset.presenceId = id;
      item.textContent = label;
      return item;
    }),
  );
}

/** Reads the room's presence again (with who each member is) and keeps watching it. */
async function watchPresence(): Promise<void> {
  const snapshot = await client.subscribePresence(ROOM, onPresence);
  if (snapshot.success) showPresent(snapshot.present);
}

function onPresence(update: PresenceUpdate): void {
  if (update.type === 'snapshot') return showPresent(update.present);
  // A join carries only the id: read the list again to show who it is.
  if (update.type === 'join') return void watchPresence();
  if (update.type === 'leave') {
    present.delete(update.connectionId);
    byId('presence').querySelector(`[data-presence-id="${CSS.escape(update.connectionId)}"]`)?.remove();
  }
}

async function joinRoom(): Promise<void> {
  const reply = (await client.command('join-room', { roomName: ROOM })) as { success: boolean } | ErrorPayload;
  inRoom = !isErrorPayload(reply) && reply.success;
  byId('present').textContent = inRoom ? 'you are in the room' : 'not in the room';
}

async function leaveRoom(): Promise<void> {
  await client.command('leave-room', { roomName: ROOM });
  inRoom = false;
  byId('present').textContent = 'not in the room';
}

async function subscribe(): Promise<void> {
  const next = byId<HTMLSelectElement>('channel').value;
  if (channel) await client.unsubscribe(channel);
  channel = null;
  byId('messages').replaceChildren();
  byId('chat-error').textContent = '';
  const { success, history } = await client.subscribe(next, showMessage, { historyLimit: 20 });
  if (!success) {
    byId('chat-error').textContent = `Not allowed to read ${next}${session ? '' : ' (sign in as a premium user)'}`;
    return;
  }
  channel = next;
  for (const message of [...history].reverse()) showMessage(message);
}

async function send(text: string): Promise<void> {
  if (!channel) return void (byId('chat-error').textContent = 'Subscribe to a channel first');
  const reply = (await client.command('publish', { channel, message: text })) as { success: boolean } | ErrorPayload;
  byId('chat-error').textContent = isErrorPayload(reply) ? describeError(reply) : '';
}

/** A new version of the shared document, from any page: shown unless this page is typing (its own write comes next). */
function showDocument(update: RecordUpdate<SharedDocument>): void {
  byId('doc-version').textContent = String(update.version);
  byId('doc-author').textContent = update.value?.by ?? '–';
  const area = byId<HTMLTextAreaElement>('doc-text');
  if (writeTimer === undefined) area.value = update.value?.text ?? '';
}

function showDocuments(diff: CollectionDiff): void {
  if (diff.reset) documents.clear();
  for (const { id } of diff.added) documents.add(id);
  for (const { id } of diff.removed) documents.delete(id);
  byId('doc-list').textContent = [...documents].sort().join(', ') || '–';
}

async function followDocuments(): Promise<void> {
  await client.subscribeRecord<SharedDocument>(DOCUMENT, showDocument, { mode: 'patch' });
  await client.subscribeCollection('docs', { onDiff: showDocuments });
}

/** Sends the text once typing pauses; a refusal (not signed in) is shown. */
function scheduleWrite(): void {
  clearTimeout(writeTimer);
  writeTimer = setTimeout(() => {
    const text = byId<HTMLTextAreaElement>('doc-text').value;
    client
      .writeRecord(DOCUMENT, { text, by: session?.userId ?? '?' })
      .then(() => (byId('doc-error').textContent = ''))
      .catch((error: Error) => (byId('doc-error').textContent = error.message))
      .finally(() => (writeTimer = undefined));
  }, WRITE_DELAY_MS);
}

function showIdentity(): void {
  byId('identity').textContent = session ? `Signed in as ${session.userId} (your client id).` : 'Anonymous (your client id is your connection id).';
  byId('logout').hidden = !session;
  byId<HTMLInputElement>('message').placeholder = session ? 'Write a message' : 'Sign in to write';
  byId<HTMLTextAreaElement>('doc-text').readOnly = !session;
}

/** A client for the current session; a new session means a new connection (the token is in the URL). */
async function connect(): Promise<void> {
  client = new MeshClient(endpoint(), { retryFirstConnect: true, reconnectInterval: 300, maxReconnectInterval: 3000 });
  client.on('connect', () => {
    setStatus('online');
    void refreshStats();
    void refreshClients();
  });
  client.on('disconnect', () => setStatus('reconnecting'));
  client.on('reconnect', () => {
    if (inRoom) void joinRoom();
  });
  client.on('close', () => setStatus('offline'));
  client.on('latency', (e) => (byId('latency').textContent = `${e.detail.latency} ms`));
  client.on('user-joined', (e) => log('room-events', `${e.detail.userId ?? e.detail.id} joined`));
  client.on('user-left', (e) => log('room-events', `${e.detail.userId ?? e.detail.id} left`));
  client.on('error', (e) => console.warn('mesh client:', e.detail));
  client.handle('notify', (data: { text?: string }) => {
    log('room-events', `notified: ${data?.text ?? ''}`);
    return { receivedBy: session?.userId ?? client.connectionId, at: new Date().toISOString() };
  });
  showIdentity();
  await client.connect();
  await followDocuments();
  await watchPresence();
  if (inRoom) await joinRoom();
  const wanted = channel;
  channel = null;
  if (wanted) await subscribe();
}

async function reconnectAs(next: Session | null): Promise<void> {
  session = next;
  if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION_KEY);
  await client.close();
  await connect();
}

async function login(userId: string): Promise<void> {
  const response = await fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (!response.ok) {
    byId('identity').textContent = `Sign-in refused: ${((await response.json()) as { message?: string }).message ?? response.status}`;
    return;
  }
  const { token } = (await response.json()) as { token: string };
  await reconnectAs({ userId, token });
}

document.addEventListener('DOMContentLoaded', () => {
  byId('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void login(byId<HTMLInputElement>('user-id').value.trim());
  });
  byId('logout').addEventListener('click', () => void reconnectAs(null));
  byId('join-room').addEventListener('click', () => void joinRoom());
  byId('leave-room').addEventListener('click', () => void leaveRoom());
  byId('subscribe').addEventListener('click', () => void subscribe());
  byId('refresh-clients').addEventListener('click', () => void refreshClients());
  byId('increment').addEventListener('click', () => void increment().catch((error: Error) => (byId('counter').textContent = error.message)));
  byId('doc-text').addEventListener('input', scheduleWrite);
  byId('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('message');
    const text = input.value;
    input.value = '';
    void send(text);
  });
  void connect();
});
