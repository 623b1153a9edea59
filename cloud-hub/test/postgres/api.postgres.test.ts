// The same suite as ../api.test.ts, with the hub's state on a real PostgreSQL (issue 12).
process.env.VIGIL_TEST_STATE = 'postgres';
await import('../api.test.js');
