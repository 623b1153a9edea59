// The same suite as ../cross-clinic.test.ts, with the hub's state on a real PostgreSQL (issue 12).
process.env.VIGIL_TEST_STATE = 'postgres';
await import('../cross-clinic.test.js');
