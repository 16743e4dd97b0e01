'use strict';
// What a heap grew by, per constructor: node bench/heap-summary.js <before> <after> <connections>
//   [--top 30] [--detail Connection,WebSocket]
// Reads two V8 heap snapshots (idle-memory.js --snapshot writes them) and prints, per group of
// objects (constructor name, closure name, or a kind such as "(string)"), the growth in count and
// self size per connection, and the retained size per connection of the group's outermost
// instances in the "after" snapshot (from its dominator tree). --detail lists, for the instances
// of a group, the retained size behind each of their properties (only what the instance alone
// keeps alive counts; shared objects count 0).
const { readFileSync } = require('node:fs');
const { arg } = require('./common');

function load(file) {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const meta = json.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  return {
    nodes: json.nodes,
    edges: json.edges,
    strings: json.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    NF: nodeFields.length,
    EF: edgeFields.length,
    TYPE: nodeFields.indexOf('type'),
    NAME: nodeFields.indexOf('name'),
    SELF: nodeFields.indexOf('self_size'),
    EDGES: nodeFields.indexOf('edge_count'),
    E_TYPE: edgeFields.indexOf('type'),
    E_NAME: edgeFields.indexOf('name_or_index'),
    E_TO: edgeFields.indexOf('to_node'),
  };
}

/** The group an object is counted under. */
function groupOf(s, i) {
  const type = s.nodeTypes[s.nodes[i * s.NF + s.TYPE]];
  const name = s.strings[s.nodes[i * s.NF + s.NAME]];
  switch (type) {
    case 'object':
    case 'native':
      return name;
    case 'closure':
      return `${name || '(anonymous)'}()`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'number':
      return '(heap number)';
    case 'code':
      return '(code)';
    case 'array':
    case 'hidden':
    case 'object shape':
      return `(${name})`;
    default:
      return `(${type})`;
  }
}

function totals(s) {
  const count = s.nodes.length / s.NF;
  const byGroup = new Map();
  for (let i = 0; i < count; i++) {
    const g = groupOf(s, i);
    const entry = byGroup.get(g) ?? { count: 0, self: 0 };
    entry.count++;
    entry.self += s.nodes[i * s.NF + s.SELF];
    byGroup.set(g, entry);
  }
  return byGroup;
}

/** Immediate dominators and retained sizes (Cooper, Harvey & Kennedy), weak edges ignored. */
function dominators(s) {
  const n = s.nodes.length / s.NF;
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) firstEdge[i + 1] = firstEdge[i] + s.nodes[i * s.NF + s.EDGES] * s.EF;
  const weak = s.edgeTypes.indexOf('weak');
  const shortcut = s.edgeTypes.indexOf('shortcut');
  const followed = (e) => {
    const t = s.edges[e + s.E_TYPE];
    return t !== weak && t !== shortcut;
  };
  // Post-order from the root (node 0), iteratively.
  const post = new Int32Array(n).fill(-1);
  const order = new Uint32Array(n);
  const stackNode = new Uint32Array(n);
  const stackEdge = new Uint32Array(n);
  const seen = new Uint8Array(n);
  let top = 0;
  let counter = 0;
  stackNode[0] = 0;
  stackEdge[0] = firstEdge[0];
  seen[0] = 1;
  while (top >= 0) {
    const v = stackNode[top];
    const e = stackEdge[top];
    if (e < firstEdge[v + 1]) {
      stackEdge[top] = e + s.EF;
      if (!followed(e)) continue;
      const w = s.edges[e + s.E_TO] / s.NF;
      if (!seen[w]) {
        seen[w] = 1;
        top++;
        stackNode[top] = w;
        stackEdge[top] = firstEdge[w];
      }
    } else {
      post[v] = counter;
      order[counter++] = v;
      top--;
    }
  }
  // Predecessors of reachable nodes, by post-order number.
  const predCount = new Uint32Array(counter + 1);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += s.EF) if (followed(e)) predCount[post[s.edges[e + s.E_TO] / s.NF] + 1]++;
  }
  for (let i = 0; i < counter; i++) predCount[i + 1] += predCount[i];
  const preds = new Uint32Array(predCount[counter]);
  const fill = predCount.slice(0, counter);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += s.EF) if (followed(e)) preds[fill[post[s.edges[e + s.E_TO] / s.NF]]++] = post[v];
  }
  const root = counter - 1;
  const idom = new Int32Array(counter).fill(-1);
  idom[root] = root;
  const intersect = (a, b) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (let b = root - 1; b >= 0; b--) {
      let next = -1;
      for (let p = predCount[b]; p < predCount[b + 1]; p++) {
        const q = preds[p];
        if (idom[q] < 0) continue;
        next = next < 0 ? q : intersect(q, next);
      }
      if (next >= 0 && idom[b] !== next) {
        idom[b] = next;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(counter);
  for (let b = 0; b < counter; b++) retained[b] += s.nodes[order[b] * s.NF + s.SELF];
  for (let b = 0; b < root; b++) if (idom[b] >= 0) retained[idom[b]] += retained[b];
  return { post, order, idom, retained, firstEdge };
}

function main() {
  const [beforeFile, afterFile, connectionsArg] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  const connections = Number(connectionsArg);
  if (!beforeFile || !afterFile || !(connections > 0)) throw new Error('usage: node bench/heap-summary.js <before> <after> <connections> [--top 30] [--detail Group,...]');
  const top = Number(arg('top') ?? 30);
  const before = totals(load(beforeFile));
  const after = load(afterFile);
  const grown = totals(after);
  const dom = dominators(after);
  // Retained size of a group: its instances not dominated by another of the same group.
  const retainedBy = new Map();
  for (let b = 0; b < dom.order.length; b++) {
    const g = groupOf(after, dom.order[b]);
    let d = dom.idom[b];
    let nested = false;
    while (d >= 0 && d !== dom.idom[d]) {
      if (groupOf(after, dom.order[d]) === g) {
        nested = true;
        break;
      }
      d = dom.idom[d];
      if (d === dom.order.length - 1) break;
    }
    if (!nested) retainedBy.set(g, (retainedBy.get(g) ?? 0) + dom.retained[b]);
  }
  const rows = [...grown].map(([g, a]) => {
    const b = before.get(g) ?? { count: 0, self: 0 };
    return { g, count: (a.count - b.count) / connections, self: (a.self - b.self) / connections, retained: (retainedBy.get(g) ?? 0) / connections };
  });
  rows.sort((x, y) => y.self - x.self);
  const totalSelf = rows.reduce((sum, r) => sum + r.self, 0);
  console.log(`Heap growth ${totalSelf.toFixed(0)} bytes per connection (self sizes, ${connections} connections)\n`);
  console.log('| group | count/conn | self bytes/conn | retained bytes/conn (after) |');
  console.log('|---|---|---|---|');
  for (const r of rows.slice(0, top)) console.log(`| ${r.g} | ${r.count.toFixed(2)} | ${r.self.toFixed(0)} | ${r.retained.toFixed(0)} |`);
  for (const group of (arg('detail') ?? '').split(',').filter(Boolean)) detail(after, dom, group);
}

/** Per property of a group's instances: the retained size each keeps alive on its own. */
function detail(s, dom, group) {
  const props = new Map();
  let instances = 0;
  let retainedTotal = 0;
  for (let b = 0; b < dom.order.length; b++) {
    const v = dom.order[b];
    if (groupOf(s, v) !== group) continue;
    instances++;
    retainedTotal += dom.retained[b];
    for (let e = dom.firstEdge[v]; e < dom.firstEdge[v + 1]; e += s.EF) {
      const type = s.edgeTypes[s.edges[e + s.E_TYPE]];
      if (type === 'weak' || type === 'shortcut') continue;
      const nameOrIndex = s.edges[e + s.E_NAME];
      const name = type === 'element' || type === 'hidden' ? `[${type}]` : s.strings[nameOrIndex];
      const w = s.edges[e + s.E_TO] / s.NF;
      const pw = dom.post[w];
      const own = pw >= 0 && dom.idom[pw] === b ? dom.retained[pw] : 0;
      const key = `${name} → ${groupOf(s, w)}`;
      const entry = props.get(key) ?? { n: 0, own: 0 };
      entry.n++;
      entry.own += own;
      props.set(key, entry);
    }
  }
  if (instances === 0) return console.log(`\nNo instances of ${group}.`);
  // Who keeps the instances alive: their immediate dominators, with the edge when it is direct.
  const owners = new Map();
  for (let b = 0; b < dom.order.length; b++) {
    const v = dom.order[b];
    if (groupOf(s, v) !== group || dom.idom[b] < 0) continue;
    const d = dom.order[dom.idom[b]];
    let via = '';
    for (let e = dom.firstEdge[d]; e < dom.firstEdge[d + 1]; e += s.EF) {
      if (s.edges[e + s.E_TO] / s.NF !== v) continue;
      const type = s.edgeTypes[s.edges[e + s.E_TYPE]];
      via = type === 'element' || type === 'hidden' ? `[${type}]` : String(s.strings[s.edges[e + s.E_NAME]]);
      break;
    }
    const key = `${groupOf(s, d)}${via ? `.${via}` : ' (indirect)'}`;
    const entry = owners.get(key) ?? { n: 0, retained: 0 };
    entry.n++;
    entry.retained += dom.retained[b];
    owners.set(key, entry);
  }
  console.log(`\n${group}: ${instances} instances, ${(retainedTotal / instances).toFixed(0)} bytes retained each (self included)\n`);
  console.log('| edge → target | per instance | retained bytes per instance |');
  console.log('|---|---|---|');
  const sorted = [...props].sort((x, y) => y[1].own - x[1].own).slice(0, 25);
  for (const [key, { n, own }] of sorted) console.log(`| ${key} | ${(n / instances).toFixed(2)} | ${(own / instances).toFixed(0)} |`);
  console.log(`\nWhat keeps the ${group} instances alive (immediate dominator.edge):\n`);
  console.log('| owner | instances | retained bytes |');
  console.log('|---|---|---|');
  for (const [key, { n, retained }] of [...owners].sort((x, y) => y[1].retained - x[1].retained).slice(0, 25)) console.log(`| ${key} | ${n} | ${retained.toFixed(0)} |`);
}

main();
