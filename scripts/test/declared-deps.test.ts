// Every package declares what its shipped code imports: a release is installed with
// `npm install --omit=dev`, where an undeclared package (hoisted in a checkout) is simply missing.
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { test } from 'node:test';
import { importedPackages, WORKSPACES, workspaceManifest } from '../release/workspace-imports.js';

const builtins = new Set(builtinModules);

for (const workspace of WORKSPACES) {
  test(`${workspace}: every package its sources import is a declared dependency`, () => {
    const manifest = workspaceManifest(workspace);
    const declared = new Set(Object.keys(manifest.dependencies ?? {}));
    const imported = importedPackages(workspace);
    assert.ok(imported.size > 0, 'the scan found imports');
    const missing = [...imported.keys()].filter((name) => !builtins.has(name) && !declared.has(name));
    assert.deepEqual(
      missing.map((name) => `${name} (${imported.get(name)?.[0]})`),
      [],
      `${workspace}/package.json must declare what src/ imports`,
    );
    // And nothing declared goes unused (a dependency nobody imports is install weight and attack surface).
    const unused = [...declared].filter((name) => !imported.has(name) && !RUNTIME_ONLY.has(name));
    assert.deepEqual(unused, [], `${workspace}/package.json declares dependencies src/ never imports`);
  });
}

/** Declared for what they load at run time rather than import (none today). */
const RUNTIME_ONLY = new Set<string>();

test('the checkout-only worker shims import nothing but tsx and their sibling source', () => {
  for (const workspace of WORKSPACES) {
    for (const [file, specifiers] of importedPackages(workspace, { shimsOnly: true }).entries()) {
      assert.deepEqual(
        specifiers.filter((s) => s !== 'tsx/esm/api' && !s.startsWith('./')),
        [],
        `${file} is a tsx shim and must not carry code`,
      );
    }
  }
});
