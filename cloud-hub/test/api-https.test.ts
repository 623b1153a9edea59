import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { currentTotp } from '../src/auth/totp.js';
import { provisionUser } from '../src/auth/user-provisioning.js';

describe('hub API over HTTPS', () => {
  it('serves the API with the configured certificate and marks the session cookie Secure', async () => {
    const { makeTempDir } = await import('../../scripts/harness/temp-dir.js');
    const { makeTlsMaterial } = await import('../../scripts/harness/tls-material.js');
    const { request } = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const dir = makeTempDir('https');
    const tls = makeTlsMaterial(dir.path, 'http');
    const h = await startTestHub({ http: { port: 0, tls: { enabled: true, keyFile: tls.serverKey, certFile: tls.serverCert } } });
    try {
      const user = await provisionUser(h.hub.auth, h.hub.state.audit, {
        username: 'secure1',
        role: 'ops',
        enrolTotp: true,
        actor: 'test',
      });
      const body = JSON.stringify({
        username: 'secure1',
        password: user.password,
        totp: await currentTotp(user.totpSecret ?? ''),
      });
      const response = await new Promise<{ status: number; cookie: string; hsts: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: h.hub.httpPort,
            path: '/api/v1/auth/login',
            method: 'POST',
            ca: readFileSync(tls.caCert),
            servername: 'localhost',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                cookie: String(res.headers['set-cookie'] ?? ''),
                hsts: String(res.headers['strict-transport-security'] ?? ''),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(response.status, 200);
      assert.match(response.cookie, /vigil_session=[^;]+;.*HttpOnly/);
      assert.match(response.cookie, /Secure/);
      assert.match(response.cookie, /SameSite=Strict/);
      assert.match(response.hsts, /max-age=31536000/);
      // Plain HTTP to the HTTPS port is refused, not served.
      await assert.rejects(fetch(`http://127.0.0.1:${h.hub.httpPort}/healthz`));
    } finally {
      await h.stop();
      dir.remove();
    }
  });
});
