// The keyless refusal (a Fulcio signature needs a log entry or a timestamp to stay verifiable) and the
// `provenant sign` flags folded into the ConfigMap data before parsing.
import { describe, expect, it } from 'vitest';
import { applyTransparencyFlags, parseConfig, type ConfigProblem } from '../../../src/config/index.js';
import { ProvenantError } from '../../../src/errors.js';
import { resolveTransparency } from '../../../src/transparency/index.js';

const keyless = { 'signers.x509.fulcio.enabled': 'true' } as const;

function problemsOf(data: Record<string, string>): readonly ConfigProblem[] {
  try {
    parseConfig(data);
  } catch (err) {
    expect(err).toBeInstanceOf(ProvenantError);
    expect((err as ProvenantError).code).toBe('CONFIG_INVALID');
    expect((err as ProvenantError).kind).toBe('config');
    return (err as ProvenantError).context['problems'] as ConfigProblem[];
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('keyless without a log or a timestamp authority', () => {
  it('is refused at load, naming the keys to set, together with every other problem', () => {
    const problems = problemsOf({ ...keyless, 'storage.oci.encoding-format': 'nope' });
    expect(problems.map((p) => p.key).sort()).toEqual(['storage.oci.encoding-format', 'transparency.enabled']);
  });

  it('is refused under "manual" too (runs without the upload annotation would get neither)', () => {
    expect(problemsOf({ ...keyless, 'transparency.enabled': 'manual' }).map((p) => p.key)).toEqual(['transparency.enabled']);
  });

  it('is accepted with a log, with a TSA, with both, and when no artifact uses the x509 signer', () => {
    expect(parseConfig({ ...keyless, 'transparency.enabled': 'true' }).config.signers.x509.tsa.url).toBeUndefined();
    expect(parseConfig({ ...keyless, 'signers.x509.tsa.url': 'http://tsa.local' }).config.signers.x509.tsa.url).toBe('http://tsa.local');
    expect(parseConfig({ ...keyless, 'transparency.enabled': 'manual', 'signers.x509.tsa.url': 'http://tsa.local' }).config.transparency.mode).toBe('manual');
    const kms = { 'artifacts.taskrun.signer': 'kms', 'artifacts.pipelinerun.signer': 'kms', 'artifacts.oci.signer': 'none', 'signers.kms.kmsref': 'awskms:///alias/k' };
    expect(parseConfig({ ...keyless, ...kms }).config.signers.x509.fulcio.enabled).toBe(true);
    // Keys only: no refusal.
    expect(parseConfig({}).config.transparency.mode).toBe('false');
  });

  it('a bad signers.x509.tsa.url is a problem of its own', () => {
    expect(problemsOf({ 'signers.x509.tsa.url': 'ftp://tsa' }).map((p) => p.key)).toEqual(['signers.x509.tsa.url']);
  });
});

describe('applyTransparencyFlags (provenant sign)', () => {
  it('--rekor-url sets the URL and turns logging on, except under manual', () => {
    expect(applyTransparencyFlags({}, { rekorUrl: 'http://r' })).toEqual({ 'transparency.url': 'http://r', 'transparency.enabled': 'true' });
    expect(applyTransparencyFlags({ 'transparency.enabled': 'false' }, { rekorUrl: 'http://r' })['transparency.enabled']).toBe('true');
    expect(applyTransparencyFlags({ 'transparency.enabled': 'manual' }, { rekorUrl: 'http://r' })['transparency.enabled']).toBe('manual');
  });

  it('--no-tlog turns logging off; --tsa-url sets signers.x509.tsa.url; no flag changes nothing', () => {
    const data = { 'transparency.enabled': 'true', 'transparency.url': 'http://r' };
    expect(applyTransparencyFlags(data, { noTlog: true })['transparency.enabled']).toBe('false');
    expect(applyTransparencyFlags(data, { tsaUrl: 'http://t' })['signers.x509.tsa.url']).toBe('http://t');
    expect(applyTransparencyFlags(data, {})).toEqual(data);
  });

  it('--no-tlog on a keyless config without a TSA is the same refusal as the key', () => {
    const data = applyTransparencyFlags({ ...keyless, 'transparency.enabled': 'true' }, { noTlog: true });
    expect(problemsOf(data).map((p) => p.key)).toEqual(['transparency.enabled']);
  });
});

describe('resolveTransparency (controller and CLI)', () => {
  const upload = { 'chains.tekton.dev/transparency-upload': 'true' };
  it('follows transparency.enabled, the run annotation under manual, and signers.x509.tsa.url', () => {
    const on = parseConfig({ 'transparency.enabled': 'true', 'transparency.url': 'http://rekor.local' }).config;
    expect(resolveTransparency(on, {})).toEqual({ rekorUrl: 'http://rekor.local', tsaUrl: undefined });
    const manual = parseConfig({ 'transparency.enabled': 'manual', 'signers.x509.tsa.url': 'http://tsa.local' }).config;
    expect(resolveTransparency(manual, {})).toEqual({ rekorUrl: undefined, tsaUrl: 'http://tsa.local' });
    expect(resolveTransparency(manual, upload)).toEqual({ rekorUrl: 'https://rekor.sigstore.dev', tsaUrl: 'http://tsa.local' });
    expect(resolveTransparency(parseConfig({}).config, upload)).toEqual({ rekorUrl: undefined, tsaUrl: undefined });
  });
});
