'use strict';
// Which client sits on which node and which rooms it is in, for bench/sharded.js.
// Nodes 0-2 hold the members of the busy rooms; the last node holds clients too, but only in
// quiet rooms nobody publishes to, so it has no member of any busy room.

// The nodes a busy room's members are on, cycled over the rooms: pairs and single nodes, each of
// the three member nodes equally often.
const PLACEMENTS = [[0, 1], [1, 2], [0, 2], [0], [1], [2]];

/**
 * @param {{ nodes: number, rooms: number, clientsPerNode: number, membersPerNode: number, quietRooms: number, churn: number }} o
 */
function makeLayout(o) {
  if (o.nodes !== 4) throw new Error('the layout is written for 4 nodes');
  if (o.membersPerNode > o.clientsPerNode) throw new Error('membersPerNode must not exceed clientsPerNode');
  const idleNode = o.nodes - 1;
  const clients = [];
  for (let node = 0; node < o.nodes; node++) for (let k = 0; k < o.clientsPerNode; k++) clients.push({ index: clients.length, node, rooms: new Set() });
  const onNode = (node) => clients.filter((c) => c.node === node);
  const cursor = new Array(o.nodes).fill(0);
  const pick = (node) => onNode(node)[cursor[node]++ % o.clientsPerNode];

  // Busy rooms: membersPerNode consecutive clients of each node in the room's placement.
  const rooms = [];
  for (let i = 0; i < o.rooms; i++) {
    const name = `busy:${i}`;
    const nodes = PLACEMENTS[i % PLACEMENTS.length];
    const members = [];
    for (const node of nodes) {
      for (let m = 0; m < o.membersPerNode; m++) {
        const client = pick(node);
        client.rooms.add(name);
        members.push(client.index);
      }
    }
    // The room's traffic starts on a node that has members, as when a member sends a message.
    rooms.push({ name, nodes, members, publisherNode: nodes[0] });
  }

  // Quiet rooms on the idle node: it is not empty, it just has no interest in the busy rooms.
  const quiet = [];
  for (let i = 0; i < o.quietRooms; i++) {
    const name = `quiet:${i}`;
    const members = [];
    for (let m = 0; m < o.membersPerNode; m++) members.push(pick(idleNode).index);
    for (const index of members) clients[index].rooms.add(name);
    quiet.push({ name, members });
  }

  // Churn, each list at most `churn` long:
  // - first: a client of the idle node joins a busy room (its node's first member), then leaves;
  // - again: a client of node 0 joins a busy room node 0 already has members in, then leaves.
  const idleClients = onNode(idleNode);
  const first = rooms.slice(0, o.churn).map((room, j) => ({ client: idleClients[j % idleClients.length].index, room: room.name }));
  const again = [];
  for (const room of rooms) {
    if (again.length >= o.churn) break;
    if (!room.nodes.includes(0)) continue;
    const outsider = onNode(0).find((c) => !c.rooms.has(room.name));
    if (outsider) again.push({ client: outsider.index, room: room.name });
  }
  // A client joins each room at most once per list, so every join is a new membership.
  const distinct = (list) => new Set(list.map((j) => `${j.client} ${j.room}`)).size === list.length;
  if (!distinct(first) || !distinct(again)) throw new Error('churn joins must be distinct');

  return { idleNode, memberNodes: [...new Set(PLACEMENTS.flat())], clients, rooms, quiet, churn: { first, again } };
}

module.exports = { makeLayout };
