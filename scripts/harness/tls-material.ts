import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsMaterial {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
export function makeTlsMaterial(dir: string, name = 'test'): TlsMaterial {
  const m: TlsMaterial = {
    caCert: join(dir, `${name}-ca.pem`),
    caKey: join(dir, `${name}-ca.key`),
    serverCert: join(dir, `${name}-server.pem`),
    serverKey: join(dir, `${name}-server.key`),
  };
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name} CA`,
      '-keyout',
      m.caKey,
      '-out',
      m.caCert,
    ],
    dir,
  );
  const ext = join(dir, `${name}-ext.cnf`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const csr = join(dir, `${name}-server.csr`);
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      m.serverKey,
      '-out',
      csr,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      m.caCert,
      '-CAkey',
      m.caKey,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      m.serverCert,
    ],
    dir,
  );
  return m;
}

/** A client certificate whose CN is the device id, issued by the given CA. */
export function makeClientCert(dir: string, ca: TlsMaterial, cn: string): { cert: string; key: string } {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.pem`);
  const csr = join(dir, `${cn}.csr`);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr],
    dir,
  );
  openssl(['x509', '-req', '-in', csr, '-CA', ca.caCert, '-CAkey', ca.caKey, '-CAcreateserial', '-days', '2', '-out', cert], dir);
  return { cert, key };
}
