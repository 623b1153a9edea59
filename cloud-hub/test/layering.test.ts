// The hub's dependency direction (issue 12): feature folders own their types and store interfaces;
// storage/ (SQL engines, InfluxDB) implements them. A test over the import graph, so a change that
// breaks the layering fails `npm test` with the offending import named.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = join(import.meta.dirname, '../src');
/** Composition roots: the only files outside storage/ that may name an engine. */
const ROOTS = new Set([
  'hub.ts',
  'index.ts',
  'cli.ts',
  'cli-user-commands.ts',
  'cli-model-commands.ts',
  'cli-state-commands.ts',
  'followup/followup-worker-main.ts',
]);

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

function imports(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = resolve(dirname(file), (m[3] as string).replace(/\.js$/, '.ts'));
    edges.push({ from: relative(SRC, file), to: relative(SRC, target), typeOnly: Boolean(m[2]) });
  }
  for (const m of text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const target = resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts'));
    edges.push({ from: relative(SRC, file), to: relative(SRC, target), typeOnly: false });
  }
  return edges;
}

const edges = sources(SRC).flatMap(imports);
const inStorage = (path: string) => path.startsWith('storage/');
/**
 * A feature's store contract: its `*-store.ts` (record types, the store interface, and the pure rules
 * every engine must apply alike, such as the audit hash chain) and the state contract (state/).
 */
const isContract = (path: string) => path.startsWith('state/') || /^[a-z]+\/[a-z-]+-store\.ts$/.test(path);

test('only composition roots import from storage/ (pure logic, features and the API name no engine)', () => {
  const bad = edges.filter((e) => !inStorage(e.from) && inStorage(e.to) && !ROOTS.has(e.from));
  assert.deepEqual(
    bad.map((e) => `${e.from} → ${e.to}`),
    [],
  );
});

test('storage/ imports only types from feature folders (values only from store contracts and the configuration)', () => {
  // config.ts: storage/ chooses the engines the configuration names (configured-stores.ts).
  const bad = edges.filter(
    (e) => inStorage(e.from) && !inStorage(e.to) && !isContract(e.to) && !e.typeOnly && e.to !== 'config.ts',
  );
  assert.deepEqual(
    bad.map((e) => `${e.from} → ${e.to}`),
    [],
  );
});

test('store contracts are pure: they import only types (and other contracts), never an engine or a service', () => {
  const bad = edges.filter((e) => isContract(e.from) && !e.typeOnly && !isContract(e.to));
  assert.deepEqual(
    bad.map((e) => `${e.from} → ${e.to}`),
    [],
  );
});

test('database drivers are imported only in storage/ (and the state CLI, a composition root, for SQLite backups)', () => {
  const drivers = /^\s*import\s[^'"]*from\s+['"](better-sqlite3|pg|pg-[a-z-]+|@influxdata\/[a-z-]+)['"]/m;
  const bad = sources(SRC)
    .map((file) => relative(SRC, file))
    .filter((file) => !inStorage(file) && file !== 'cli-state-commands.ts')
    .filter((file) => drivers.test(readFileSync(join(SRC, file), 'utf8')));
  assert.deepEqual(bad, []);
  assert.ok(
    sources(join(SRC, 'storage')).some((file) => drivers.test(readFileSync(file, 'utf8'))),
    'the check sees the drivers storage/ does import',
  );
});

test('the import graph was read (the checks above are not vacuous)', () => {
  assert.ok(edges.length > 100, `${edges.length} imports`);
  assert.ok(edges.some((e) => inStorage(e.from) && e.typeOnly && e.to.startsWith('followup/')));
  assert.ok(edges.some((e) => e.from === 'hub.ts' && inStorage(e.to)));
});
