// The WebAssembly the edge runs is compiled from sources in the repository: each generated module
// must be what `npm run build:wasm` makes from its .wat today (a source edited without rebuilding,
// or a module edited by hand, fails here).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileWat, moduleText, WASM_SOURCES } from '../build-wasm.js';

const ROOT = join(import.meta.dirname, '../..');

for (const source of WASM_SOURCES)
  test(`${source.module} is ${source.wat}, compiled`, async () => {
    const committed = readFileSync(join(ROOT, source.module), 'utf8');
    assert.equal(committed, moduleText(source, await compileWat(source.wat)), 'run npm run build:wasm');
  });
