#!/usr/bin/env node
// `npm test`: makes sure the real servers the tests start are installed, then runs every test file
// with node's own test runner (through tsx). Extra arguments filter test files by substring.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureSystemPackages } from './system-deps.mjs';

const root = new URL('..', import.meta.url).pathname;
ensureSystemPackages();

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['shared', 'edge-agent', 'cloud-hub', 'scripts']
  .flatMap((ws) => findTests(join(root, ws)))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Two test files at a time: most wait on servers and child processes, and the machine has two cores.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, VIGIL_LOG_LEVEL: process.env.VIGIL_LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
