/**
 * The PKCS#11 signer against a real SoftHSM2 token (and ykcs11 with no YubiKey attached).
 * All keys and PINs here are throwaway test material.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { DSSEBundleBuilder, type Bundle } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import pkcs11js from 'pkcs11js';
import { createPkcs11Signer } from '../../src/signing/pkcs11-signer.js';
import { createPkcs11ModuleTable } from '../../src/signing/index.js';
import type { KeySigner } from '../../src/signing/types.js';
import { ProvenantError } from '../../src/errors.js';
import { createCapturingLogger, createSilentLogger } from '../../src/observability/index.js';
import { startSoftHsm, YKCS11_MODULE, type SoftHsm } from '../support/softhsm.js';

const PIN = '918273';
const WRONG_PIN = '564738';
const TOKEN = 'provenant test';
const DOOMED_TOKEN = 'doomed';

const GEN_ID = Buffer.from([0x01]);
const IMPORT_ID = Buffer.from([0x02]);
const P384_ID = Buffer.from([0x03]);
const ALWAYS_AUTH_ID = Buffer.from([0x04]);
const RSA_ID = Buffer.from([0x05]);

let hsm: SoftHsm;
let importedPublicPem: string;

function uriFor(object: string, extra = `pin-value=${PIN}`, token = TOKEN): string {
  return `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(object)}?module-path=${hsm.modulePath}&${extra}`;
}

async function bundleFor(signer: KeySigner, payload: Buffer): Promise<Bundle> {
  return new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: payload, type: 'application/vnd.in-toto+json' });
}

function verifyBundle(bundle: Bundle, publicKeyPem: string): void {
  const trust = toTrustMaterial(
    { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] },
    (hint) => {
      expect(hint).toMatch(/^[0-9a-f]{64}$/);
      return { publicKey: createPublicKey(publicKeyPem), validFor: () => true };
    },
  );
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
}

async function failureOf(promise: Promise<unknown>): Promise<ProvenantError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ProvenantError);
    return err as ProvenantError;
  }
  throw new Error('expected a failure');
}

/** Everything an error could show: message, stack, context, and the same for its causes. */
function everythingIn(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    if (e instanceof Error) {
      parts.push(e.message, String(e.stack));
      if (e instanceof ProvenantError) parts.push(JSON.stringify(e.toJSON()));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}

const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'x', predicate: {} }));

beforeAll(async () => {
  hsm = await startSoftHsm({ tokenLabel: TOKEN, pin: PIN });
  hsm.generateEcKey({ label: 'generated', id: GEN_ID });
  hsm.generateEcKey({ label: 'generated-p384', id: P384_ID, curve: 'P-384' });
  hsm.generateEcKey({ label: 'always-auth', id: ALWAYS_AUTH_ID, alwaysAuthenticate: true });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  importedPublicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await hsm.importKey({ label: 'imported', id: IMPORT_ID, pkcs8Pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  await hsm.initToken(DOOMED_TOKEN);
  hsm.generateEcKey({ label: 'doomed', id: GEN_ID, token: DOOMED_TOKEN });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await hsm.importKey({ label: 'rsa', id: RSA_ID, pkcs8Pem: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
});

afterAll(async () => {
  await hsm?.stop();
});

describe('PKCS#11 signer on SoftHSM2', () => {
  it('signs a DSSE bundle with a key generated on the token; a flipped payload byte fails', async () => {
    const signer = await createPkcs11Signer(uriFor('generated'), { logger: createSilentLogger() });
    try {
      expect(signer.algorithm).toBe('ecdsa-p256-sha256');
      const bundle = await bundleFor(signer, statement);
      verifyBundle(bundle, signer.publicKeyPem);

      const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : undefined;
      expect(envelope).toBeDefined();
      const tampered = structuredClone(bundle);
      if (tampered.content.$case !== 'dsseEnvelope') throw new Error('not DSSE');
      const payload = Buffer.from(tampered.content.dsseEnvelope.payload);
      payload[10] = (payload[10] ?? 0) ^ 0x01;
      tampered.content.dsseEnvelope.payload = payload;
      expect(() => verifyBundle(tampered, signer.publicKeyPem)).toThrow();
    } finally {
      await signer.close?.();
    }
  });

  it('signs with an imported key (by id, PIN from a file) whose public key equals node:crypto\'s', async () => {
    const pinFile = await hsm.writePinFile();
    const signer = await createPkcs11Signer(
      `pkcs11:token=${encodeURIComponent(TOKEN)};id=%02?module-path=${hsm.modulePath}&pin-source=file:${pinFile}`,
      { logger: createSilentLogger() },
    );
    try {
      expect(signer.publicKeyPem).toBe(importedPublicPem);
      verifyBundle(await bundleFor(signer, statement), importedPublicPem);
    } finally {
      await signer.close?.();
    }
  });

  it('signs with a P-384 key over a SHA-256 digest (as cosign), so plain @sigstore/verify accepts it', async () => {
    const signer = await createPkcs11Signer(uriFor('generated-p384'), { logger: createSilentLogger() });
    try {
      expect(signer.algorithm).toBe('ecdsa-p384-sha256');
      const { signature } = await signer.sign(statement);
      expect(cryptoVerify('sha256', statement, signer.publicKeyPem, signature)).toBe(true);
      expect(cryptoVerify('sha384', statement, signer.publicKeyPem, signature)).toBe(false);
      // @sigstore/verify checks every EC signature with SHA-256: no workaround needed any more.
      verifyBundle(await bundleFor(signer, statement), signer.publicKeyPem);
    } finally {
      await signer.close?.();
    }
  });

  it('logs in per signature (CKU_CONTEXT_SPECIFIC) for a CKA_ALWAYS_AUTHENTICATE key', async () => {
    const signer = await createPkcs11Signer(uriFor('always-auth'), { logger: createSilentLogger() });
    try {
      for (let i = 0; i < 3; i += 1) {
        const data = Buffer.from(`payload ${i}`);
        expect(cryptoVerify('sha256', data, signer.publicKeyPem, (await signer.sign(data)).signature)).toBe(true);
      }
    } finally {
      await signer.close?.();
    }
  });

  it('takes the module path and PIN from COSIGN_PKCS11_MODULE_PATH / COSIGN_PKCS11_PIN', async () => {
    const signer = await createPkcs11Signer(`pkcs11:token=${encodeURIComponent(TOKEN)};object=generated`, {
      logger: createSilentLogger(),
      env: { COSIGN_PKCS11_MODULE_PATH: hsm.modulePath, COSIGN_PKCS11_PIN: PIN },
    });
    try {
      const { signature } = await signer.sign(statement);
      expect(cryptoVerify('sha256', statement, signer.publicKeyPem, signature)).toBe(true);
    } finally {
      await signer.close?.();
    }
  });

  it('reopens and logs in again after its session is closed behind its back', async () => {
    const { logger, lines } = createCapturingLogger();
    const signer = await createPkcs11Signer(uriFor('generated'), { logger });
    try {
      await signer.sign(statement);
      // Another handle on the same (already initialised) module closes every session on the token.
      const other = new pkcs11js.PKCS11();
      other.load(hsm.modulePath);
      try {
        other.C_Initialize();
      } catch (err) {
        expect((err as { code?: number }).code).toBe(pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED);
      }
      const slot = other.C_GetSlotList(true).find((s) => other.C_GetTokenInfo(s).label.trim() === TOKEN);
      if (slot === undefined) throw new Error('token slot not found');
      other.C_CloseAllSessions(slot);

      const data = Buffer.from('after the session was closed');
      const { signature } = await signer.sign(data);
      expect(cryptoVerify('sha256', data, signer.publicKeyPem, signature)).toBe(true);
      expect(lines.some((l) => l.includes('session lost'))).toBe(true);
      // And it keeps working on the new session.
      verifyBundle(await bundleFor(signer, statement), signer.publicKeyPem);
    } finally {
      await signer.close?.();
    }
  });

  it('reports a token that disappears after start as a transient device error', async () => {
    const signer = await createPkcs11Signer(uriFor('doomed', `pin-value=${PIN}`, DOOMED_TOKEN), { logger: createSilentLogger() });
    try {
      await signer.sign(statement);
      await hsm.deleteToken(DOOMED_TOKEN);
      const err = await failureOf(signer.sign(statement));
      expect({ code: err.code, kind: err.kind }).toEqual({ code: 'PKCS11_DEVICE_ERROR', kind: 'transient' });
    } finally {
      await signer.close?.();
    }
  });

  it('serialises many concurrent signs on its one session', async () => {
    const signer = await createPkcs11Signer(uriFor('generated'), { logger: createSilentLogger() });
    try {
      const payloads = Array.from({ length: 40 }, (_, i) => Buffer.from(`concurrent payload ${i}`));
      const signatures = await Promise.all(payloads.map((p) => signer.sign(p)));
      signatures.forEach(({ signature }, i) => {
        expect(cryptoVerify('sha256', payloads[i] as Buffer, signer.publicKeyPem, signature)).toBe(true);
      });
    } finally {
      await signer.close?.();
    }
  });

  it('shares the module between signers: closing one leaves the other working; sign after close fails typed', async () => {
    // One module table per process (the wiring makes it): both signers share one C_Initialize.
    const pkcs11Modules = createPkcs11ModuleTable();
    const a = await createPkcs11Signer(uriFor('generated'), { logger: createSilentLogger(), pkcs11Modules });
    const b = await createPkcs11Signer(uriFor('imported'), { logger: createSilentLogger(), pkcs11Modules });
    expect(pkcs11Modules.modules.size).toBe(1);
    await a.close?.();
    await a.close?.(); // idempotent
    const { signature } = await b.sign(statement);
    expect(cryptoVerify('sha256', statement, b.publicKeyPem, signature)).toBe(true);
    await b.close?.();
    const err = await failureOf(b.sign(statement));
    expect(err.code).toBe('PKCS11_SIGNER_CLOSED');
    expect(err.kind).toBe('transient');
  });

  it('gives typed config errors for wrong PIN, unknown token, unknown key, RSA key, bad module, missing PIN file', async () => {
    const cases: Array<[string, string, string]> = [
      ['wrong PIN', uriFor('generated', `pin-value=${WRONG_PIN}`), 'PKCS11_PIN_INCORRECT'],
      ['unknown token', uriFor('generated', `pin-value=${PIN}`, 'no such token'), 'PKCS11_TOKEN_NOT_FOUND'],
      ['unknown key label', uriFor('no-such-key'), 'PKCS11_KEY_NOT_FOUND'],
      ['RSA key', uriFor('rsa'), 'PKCS11_KEY_UNSUPPORTED'],
      ['missing module', `pkcs11:token=t;object=k?module-path=/nonexistent/libpkcs11.so&pin-value=${PIN}`, 'PKCS11_MODULE_LOAD'],
      ['not a module', `pkcs11:token=t;object=k?module-path=/etc/hostname&pin-value=${PIN}`, 'PKCS11_MODULE_LOAD'],
      ['missing PIN file', uriFor('generated', `pin-source=file:${hsm.dir}/no-pin-here`), 'PKCS11_PIN_UNAVAILABLE'],
      ['no PIN at all', `pkcs11:token=${encodeURIComponent(TOKEN)};object=generated?module-path=${hsm.modulePath}`, 'PKCS11_PIN_UNAVAILABLE'],
      ['bad URI', `pkcs11:object=generated?pin-value=${PIN}`, 'PKCS11_URI_INVALID'],
      ['no module path', `pkcs11:token=t;object=generated?pin-value=${PIN}`, 'PKCS11_URI_INVALID'],
    ];
    for (const [name, uri, code] of cases) {
      const { logger, lines } = createCapturingLogger();
      const err = await failureOf(createPkcs11Signer(uri, { logger, env: {} }));
      expect({ name, code: err.code, kind: err.kind }).toEqual({ name, code, kind: 'config' });
      const shown = everythingIn(err) + lines.join('\n');
      expect(shown).not.toContain(PIN);
      expect(shown).not.toContain(WRONG_PIN);
    }
    // Failed attempts release the module: a good signer still works afterwards.
    const signer = await createPkcs11Signer(uriFor('generated'), { logger: createSilentLogger() });
    await signer.sign(statement);
    await signer.close?.();
  });

  it('never writes the PIN into a log line on the happy path or session recovery', async () => {
    const { logger, lines } = createCapturingLogger('trace');
    const signer = await createPkcs11Signer(uriFor('always-auth'), { logger });
    await signer.sign(statement);
    await signer.close?.();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(PIN);
  });
});

describe('PKCS#11 signer on ykcs11 without a YubiKey', () => {
  it('loads the module and fails with a typed error instead of crashing', async () => {
    const { logger, lines } = createCapturingLogger();
    const err = await failureOf(
      createPkcs11Signer(`pkcs11:token=YubiKey%20PIV%20%2312345678;id=%02?module-path=${YKCS11_MODULE}&pin-value=${PIN}`, { logger }),
    );
    // No pcscd here: C_GetSlotList says CKR_DEVICE_ERROR. With pcscd but no key, the token is simply absent.
    expect([
      { code: 'PKCS11_DEVICE_ERROR', kind: 'transient' },
      { code: 'PKCS11_TOKEN_NOT_FOUND', kind: 'config' },
    ]).toContainEqual({ code: err.code, kind: err.kind });
    expect(everythingIn(err) + lines.join('\n')).not.toContain(PIN);
  });
});
