/** A throwaway CA and a server certificate for 127.0.0.1 (openssl CLI), for HTTPS stand-ins. Test-only. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export function createTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'test-ca-'));
  const f = (n: string): string => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=provenant test CA'], { stdio: 'ignore' });
    execFileSync('openssl', ['req', ...ec, '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    execFileSync('openssl', ['x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('srv.pem'), '-days', '2', '-extfile', f('ext.cnf')], { stdio: 'ignore' });
    return { caPem: readFileSync(f('ca.pem'), 'utf8'), certPem: readFileSync(f('srv.pem'), 'utf8'), keyPem: readFileSync(f('srv.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
