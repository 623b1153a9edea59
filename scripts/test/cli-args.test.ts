// Every script answers --help with its options and exits 0 before doing anything, and refuses an
// unknown option with a one-line coded error (exit 2), never a stack trace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const SCRIPTS = {
  phantoms: 'scripts/phantoms/cli.ts',
  evaluate: 'scripts/evaluate/cli.ts',
  train: 'scripts/train/cli.ts',
  soak: 'scripts/soak/cli.ts',
  datasets: 'scripts/datasets/cli.ts',
  bench: 'scripts/bench/index.ts',
  release: 'scripts/release/cli.ts',
  demo: 'scripts/demo.ts',
};

const tsx = (script: string, args: string[]) =>
  run(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test('every script: --help prints its usage and exits 0; an unknown option is a one-line coded error', async () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const help = await tsx(script, ['--help']);
    assert.equal(help.code, 0, `${name} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^usage: npm run ${name}`), name);
    const bad = await tsx(script, ['--no-such-option']);
    assert.equal(bad.code, 2, name);
    const lines = bad.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: one line, no stack trace: ${bad.stderr}`);
    const body = JSON.parse(lines[0] as string) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([body.ok, body.error.code], [false, 'VIGIL_CONFIG_INVALID'], name);
    assert.match(body.error.message, /no-such-option/);
  }
});
