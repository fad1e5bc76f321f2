// Peer benchmark: hnswlib-node 3.0.0 on the vectors SearchBench wrote. Prints one JSON object on stdout.
// usage: node hnswlib.cjs <dir> <n> <dim> <queries> <M> <efConstruction> <ef,ef,...>
const fs = require('fs');
const path = require('path');
const { HierarchicalNSW } = require('hnswlib-node');
const [dir, n, dim, nq, M, efc, efs] = [process.argv[2], ...process.argv.slice(3, 8).map(Number), process.argv[8]];
const read = (f) => { const b = fs.readFileSync(path.join(dir, f)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const data = read('vectors.f32'), queries = read('queries.f32');
const tb = fs.readFileSync(path.join(dir, 'truth.i32'));
const truth = new Int32Array(tb.buffer, tb.byteOffset, tb.byteLength / 4);
const index = new HierarchicalNSW('ip', dim);
index.initIndex(n, M, efc, 42);
let t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) index.addPoint(Array.from(data.subarray(i * dim, (i + 1) * dim)), i);
const buildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const qs = []; for (let q = 0; q < nq; q++) qs.push(Array.from(queries.subarray(q * dim, (q + 1) * dim)));
const results = [];
for (const ef of efs.split(',').map(Number)) {
  index.setEf(ef);
  let hits = 0;
  t0 = process.hrtime.bigint();
  const found = qs.map((q) => index.searchKnn(q, 10).neighbors);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (let q = 0; q < nq; q++) { const t = new Set(truth.subarray(q * 10, q * 10 + 10)); for (const id of found[q]) if (t.has(id)) hits++; }
  results.push({ ef, recall: hits / (nq * 10), msPerQuery: seconds * 1000 / nq });
}
console.log(JSON.stringify({ peer: 'hnswlib-node 3.0.0', buildSeconds, results }));
