import { describe, it, expect } from 'vitest';
import { parsePkcs11Uri } from '../../../src/signing/pkcs11-uri.js';
import { ProvenantError } from '../../../src/errors.js';

function failure(uri: string): ProvenantError {
  try {
    parsePkcs11Uri(uri);
  } catch (err) {
    expect(err).toBeInstanceOf(ProvenantError);
    return err as ProvenantError;
  }
  throw new Error('expected parsePkcs11Uri to throw');
}

describe('parsePkcs11Uri', () => {
  it('parses the cosign form with token, object, id, module-path and pin-value', () => {
    const uri = parsePkcs11Uri('pkcs11:token=my-token;object=signing-key;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234');
    expect(uri.token).toBe('my-token');
    expect(uri.object).toBe('signing-key');
    expect(uri.id).toEqual(Buffer.from([0x01]));
    expect(uri.modulePath).toBe('/usr/lib/softhsm/libsofthsm2.so');
    expect(uri.pinValue).toBe('1234');
    expect(uri.pinFile).toBeUndefined();
  });

  it('percent-decodes labels as UTF-8 and ids as raw bytes, keeping + literal', () => {
    const uri = parsePkcs11Uri('pkcs11:token=My%20Token%2Bx;object=k%C3%A9y+1;id=%de%AD%00%ff?module-path=/m.so');
    expect(uri.token).toBe('My Token+x');
    expect(uri.object).toBe('kéy+1');
    expect(uri.id).toEqual(Buffer.from([0xde, 0xad, 0x00, 0xff]));
  });

  it('accepts literal id characters as bytes', () => {
    expect(parsePkcs11Uri('pkcs11:token=t;id=ab?module-path=/m.so').id).toEqual(Buffer.from('ab'));
  });

  it('reads slot-id as a number and allows it instead of token', () => {
    const uri = parsePkcs11Uri('pkcs11:slot-id=1234567;object=k?module-path=/m.so');
    expect(uri.slotId).toBe(1234567);
    expect(uri.token).toBeUndefined();
  });

  it('turns pin-source=file: into a path (file:/p, file:///p, plain /p)', () => {
    expect(parsePkcs11Uri('pkcs11:token=t;object=k?pin-source=file:/etc/hsm/pin').pinFile).toBe('/etc/hsm/pin');
    expect(parsePkcs11Uri('pkcs11:token=t;object=k?pin-source=file:///etc/hsm/pin').pinFile).toBe('/etc/hsm/pin');
    expect(parsePkcs11Uri('pkcs11:token=t;object=k?pin-source=%2Fetc%2Fhsm%2Fpin').pinFile).toBe('/etc/hsm/pin');
  });

  it('leaves module-path absent (COSIGN_PKCS11_MODULE_PATH fallback happens in the signer)', () => {
    expect(parsePkcs11Uri('pkcs11:token=t;object=k').modulePath).toBeUndefined();
  });

  it('accepts ; as query separator, type=private, vendor x- attributes and ignored library attributes', () => {
    const uri = parsePkcs11Uri('pkcs11:token=t;object=k;type=private;x-vendor=1;library-description=foo?module-path=/m.so;pin-value=9');
    expect(uri.modulePath).toBe('/m.so');
    expect(uri.pinValue).toBe('9');
  });

  it('matches token serial/manufacturer/model', () => {
    const uri = parsePkcs11Uri('pkcs11:serial=abc;manufacturer=Yubico%20%28www.yubico.com%29;model=YubiKey%20YK5;id=%02');
    expect(uri.serial).toBe('abc');
    expect(uri.manufacturer).toBe('Yubico (www.yubico.com)');
    expect(uri.model).toBe('YubiKey YK5');
  });

  const bad: Array<[string, string]> = [
    ['wrong scheme', 'pkcs12:token=t;object=k'],
    ['no token or slot', 'pkcs11:object=k?module-path=/m.so'],
    ['no object or id', 'pkcs11:token=t?module-path=/m.so'],
    ['non-numeric slot-id', 'pkcs11:slot-id=abc;object=k'],
    ['bad percent-encoding', 'pkcs11:token=t%zz;object=k'],
    ['truncated percent-encoding', 'pkcs11:token=t;id=%0'],
    ['invalid UTF-8 label', 'pkcs11:token=t;object=%ff'],
    ['unknown path attribute', 'pkcs11:token=t;object=k;colour=red'],
    ['unknown query attribute', 'pkcs11:token=t;object=k?colour=red'],
    ['duplicate attribute', 'pkcs11:token=t;token=u;object=k'],
    ['relative module-path', 'pkcs11:token=t;object=k?module-path=libsofthsm2.so'],
    ['module-name', 'pkcs11:token=t;object=k?module-name=softhsm2'],
    ['both pin forms', 'pkcs11:token=t;object=k?pin-value=1&pin-source=file:/p'],
    ['non-file pin-source', 'pkcs11:token=t;object=k?pin-source=https://x/pin'],
    ['relative pin file', 'pkcs11:token=t;object=k?pin-source=file:pin.txt'],
    ['non-private type', 'pkcs11:token=t;object=k;type=cert'],
    ['attribute without =', 'pkcs11:token;object=k'],
    ['empty object', 'pkcs11:token=t;object='],
    ['fragment', 'pkcs11:token=t;object=k#x'],
  ];
  for (const [name, uri] of bad) {
    it(`rejects ${name} with config/PKCS11_URI_INVALID whose context names signers.kms.kmsref`, () => {
      const err = failure(uri);
      expect(err.kind).toBe('config');
      expect(err.code).toBe('PKCS11_URI_INVALID');
      expect(err.context['configKey']).toBe('signers.kms.kmsref');
    });
  }

  it('never echoes the PIN in the error', () => {
    const pin = 'S3cr3t-PIN-9876';
    for (const uri of [
      `pkcs11:object=k?pin-value=${pin}`,
      `pkcs11:token=t;object=k?pin-value=${pin}&pin-source=file:/p`,
      `pkcs11:token=t;object=k?pin-value=${pin}&bogus=1`,
    ]) {
      const err = failure(uri);
      expect(JSON.stringify(err.toJSON())).not.toContain(pin);
      expect(err.message).not.toContain(pin);
      expect(String(err.stack)).not.toContain(pin);
    }
  });
});
