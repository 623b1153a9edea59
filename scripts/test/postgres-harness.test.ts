// The PostgreSQL the hub's state tests will run against (issue 12): a real Debian PostgreSQL 15 in a
// temporary cluster on a free loopback port, stopped and started again with its data kept (the
// outage tests), one database per test file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PostgresServer } from '../harness/postgres.js';

const run = promisify(execFile);
const psql = async (url: string, sql: string) => (await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-tAc', sql])).stdout.trim();

test('a real PostgreSQL on a free port: databases per test, data kept across a stop and start, refused while down', async () => {
  const server = new PostgresServer();
  try {
    await server.start();
    const url = server.createDatabase('harness_check');
    assert.match(await psql(url, 'SHOW server_version'), /^15\./);
    await psql(url, 'CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2)');
    await server.stop();
    await assert.rejects(psql(url, 'SELECT 1'), /connection|refused|server/i, 'down means down');
    await server.start();
    assert.equal(await psql(url, 'SELECT count(*) FROM kept'), '2', 'same port, same data after the restart');
    assert.equal(await psql(url, 'SHOW fsync'), 'on');
  } finally {
    await server.dispose();
  }
});
