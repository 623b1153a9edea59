// The public contract lives in docs/architecture.md: every topic kind and message schema id that
// @vigil/shared defines must be listed there, and the doc must name no topic kind or schema that the
// code does not have. (Issue 15, item 2: the contract is kept in sync with the code by a test.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as shared from '../src/index.js';

const doc = readFileSync(join(import.meta.dirname, '../../docs/architecture.md'), 'utf8');

test('docs/architecture.md lists every topic kind and schema id of @vigil/shared, and no other', () => {
  for (const kind of shared.TOPIC_KINDS) {
    assert.ok(doc.includes(`{deviceId}/${kind}`), `topic kind ${kind} is in the contract`);
  }
  const schemas = Object.entries(shared)
    .filter(([name, value]) => name.endsWith('_SCHEMA') && typeof value === 'string')
    .map(([, value]) => value as string);
  assert.ok(schemas.length >= 7);
  for (const id of schemas) assert.ok(doc.includes(id), `schema ${id} is in the contract`);
  const documentedKinds = [...doc.matchAll(/vigil\/v1\/\{clinicId\}\/\{deviceId\}\/([a-z/]+)/g)].map((m) => m[1]);
  for (const kind of documentedKinds)
    assert.ok((shared.TOPIC_KINDS as readonly string[]).includes(kind as string), `documented topic ${kind} exists`);
  const documentedSchemas = new Set([...doc.matchAll(/vigil\.[a-z-]+\/\d+/g)].map((m) => m[0]));
  for (const id of documentedSchemas) assert.ok(schemas.includes(id), `documented schema ${id} exists in @vigil/shared`);
});
