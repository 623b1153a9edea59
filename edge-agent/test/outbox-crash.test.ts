import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { Outbox } from '../src/outbox/outbox.js';

test('kill -9 while committing: every message reported as committed is still there', async () => {
  const dir = makeTempDir('outbox-crash');
  try {
    const path = join(dir.path, 'outbox.sqlite');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/outbox-writer.ts'), path, '1000000'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const committed: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        committed.push(...lines);
        if (committed.length >= 300 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const outbox = new Outbox({ path, maxBytes: 1e9 });
    const stored = new Set(outbox.after(0, 10_000_000).map((m) => m.messageId));
    const lost = committed.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], 'no acknowledged commit is lost');
    for (const m of outbox.after(0, 5)) assert.equal(m.payload.byteLength, 2048, 'rows are whole');
    outbox.close();
  } finally {
    dir.remove();
  }
});
