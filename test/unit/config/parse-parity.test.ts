import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigProblem } from '../../../src/config/index.js';
import { isProvenantError } from '../../../src/errors.js';

function problemsOf(data: Record<string, string>): ConfigProblem[] {
  try {
    parseConfig(data);
    return [];
  } catch (err) {
    if (isProvenantError(err, 'CONFIG_INVALID')) return err.context['problems'] as ConfigProblem[];
    throw err;
  }
}

describe('chains-config: Vault (signers.kms.auth.*)', () => {
  it('reads every Chains auth key, with the ServiceAccount token as the default OIDC token path', () => {
    const { config, warnings } = parseConfig({
      'signers.kms.kmsref': 'hashivault://tekton-chains',
      'signers.kms.auth.address': 'https://vault:8200',
      'signers.kms.auth.token': 's.secret',
      'signers.kms.auth.token-path': '/etc/kms/token',
      'signers.kms.auth.oidc.path': 'jwt',
      'signers.kms.auth.oidc.role': 'chains',
      'signers.kms.auth.spire.sock': 'unix:///spire/agent.sock',
      'signers.kms.auth.spire.audience': 'vault',
    });
    expect(warnings).toEqual([]);
    expect(config.signers.kms).toEqual({
      kmsref: 'hashivault://tekton-chains',
      auth: {
        address: 'https://vault:8200',
        token: 's.secret',
        tokenPath: '/etc/kms/token',
        oidc: { path: 'jwt', role: 'chains', tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
        spire: { sock: 'unix:///spire/agent.sock', audience: 'vault' },
      },
    });
  });

  it('reports every bad auth key at once, and never shows the token', () => {
    const problems = problemsOf({
      'signers.kms.kmsref': 'hashivault://transit/keys/x',
      'signers.kms.auth.address': 'vault:8200',
      'signers.kms.auth.token': 's.provenantSecret',
      'signers.kms.auth.oidc.path': 'jwt',
      'signers.kms.auth.spire.sock': 'tcp://127.0.0.1:1',
    });
    expect(problems.map((p) => p.key).sort()).toEqual([
      'signers.kms.auth.address',
      'signers.kms.auth.oidc.role',
      'signers.kms.auth.spire.audience',
      'signers.kms.auth.spire.sock',
      'signers.kms.kmsref',
    ]);
    expect(JSON.stringify(problems)).not.toContain('provenantSecret');
  });
});
