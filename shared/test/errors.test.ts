import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { asVigilError, ERROR_CATALOGUE, VigilError } from '../src/errors.js';

test('every error code is documented in docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const undocumented = Object.keys(ERROR_CATALOGUE).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(undocumented, []);
});

test('docs/errors.md lists no code that the catalogue lacks', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/`(VIGIL_[A-Z0-9_]+)`/g)].map((m) => m[1]);
  assert.deepEqual(
    documented.filter((code) => code === undefined || !(code in ERROR_CATALOGUE)),
    [],
  );
});

test('VigilError serialises to {code, message} and maps to its HTTP status', () => {
  const error = new VigilError('VIGIL_PAYLOAD_OVERSIZED', 'too big');
  assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: 'VIGIL_PAYLOAD_OVERSIZED', message: 'too big' });
  assert.equal(error.httpStatus, 413);
  assert.equal(asVigilError(new Error('boom')).code, 'VIGIL_INTERNAL');
  assert.equal(asVigilError(error), error);
});
