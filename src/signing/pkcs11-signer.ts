/**
 * `Signer` backed by a PKCS#11 token (HSM, SoftHSM, YubiKey PIV via ykcs11), selected by a cosign-style
 * `pkcs11:` URI in `signers.kms.kmsref`.
 *
 * One session per signer, logged in once and reused; PKCS#11 sessions are not safe for concurrent
 * operations, so signs are serialised. The digest is computed in Node and the token signs it with
 * CKM_ECDSA (raw r||s, converted to DER), which every token supports, unlike CKM_ECDSA_SHA256.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11, Template, TokenInfo } from 'pkcs11js';
import type { Signature } from '@sigstore/sign';
import { ProvenantError, errorMessage } from '../errors.js';
import { createMutex } from '../mutex.js';
import type { Logger } from '../observability/index.js';
import { rawEcdsaToDer } from './der.js';
import { parsePkcs11Uri, PKCS11_URI_CONFIG_KEY, type Pkcs11Uri } from './pkcs11-uri.js';
import { createPkcs11ModuleTable, type KeyAlgorithm, type KeySigner, type Pkcs11ModuleTable, type SignerDeps } from './types.js';

interface Curve {
  readonly name: 'P-256' | 'P-384';
  readonly algorithm: KeyAlgorithm;
  readonly hash: 'sha256' | 'sha384';
  /** Bytes per coordinate (and per r, s). */
  readonly size: number;
}

/** CKA_EC_PARAMS (DER namedCurve OID) → curve. Other curves cannot be verified by sigstore clients. */
const CURVES: ReadonlyMap<string, Curve> = new Map([
  ['06082a8648ce3d030107', { name: 'P-256', algorithm: 'ecdsa-p256-sha256', hash: 'sha256', size: 32 }],
  // P-384 signs a SHA-256 digest, as cosign's PKCS#11 keys and key files do (docs/signing-pkcs11.md).
  ['06052b81040022', { name: 'P-384', algorithm: 'ecdsa-p384-sha256', hash: 'sha256', size: 48 }],
]);

/**
 * dlopen returns the same library for the same path, and C_Initialize/C_Finalize are per process, so
 * signers sharing a module share one initialisation, finalised when the last of them closes.
 */
interface LoadedModule {
  readonly p11: PKCS11;
  refs: number;
  /** Open signer sessions per slot: logging out ends the login of every session on that token. */
  readonly sessionsPerSlot: Map<string, number>;
}


const ckrNames: ReadonlyMap<number, string> = new Map(
  Object.entries(pkcs11js)
    .filter((entry): entry is [string, number] => entry[0].startsWith('CKR_') && typeof entry[1] === 'number')
    .map(([name, value]) => [value, name]),
);

function ckrOf(err: unknown): number | undefined {
  if (err instanceof pkcs11js.Pkcs11Error) return err.code;
  return undefined;
}

function ckrName(err: unknown): string | undefined {
  const code = ckrOf(err);
  return code === undefined ? undefined : (ckrNames.get(code) ?? `0x${code.toString(16)}`);
}

const SESSION_LOST = new Set<number>([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_OPERATION_ACTIVE,
]);

const PIN_REJECTED = new Set<number>([
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_PIN_EXPIRED,
  pkcs11js.CKR_PIN_LOCKED,
]);

function deviceError(what: string, err: unknown, context: Record<string, unknown> = {}): ProvenantError {
  const ckr = ckrName(err);
  return new ProvenantError('transient', 'PKCS11_DEVICE_ERROR', `PKCS#11 ${what} failed: ${ckr ?? errorMessage(err)}`, {
    cause: err,
    context: { ...context, ...(ckr === undefined ? {} : { ckr }), hint: 'check that the token is present and its daemon (pcscd for YubiKeys) is running' },
  });
}

function slotNumber(slot: Handle): string {
  return slot.length >= 8 ? slot.readBigUInt64LE(0).toString() : slot.readUInt32LE(0).toString();
}

function unpad(s: string): string {
  return s.replace(/[\s\0]+$/, '');
}

function ulong(buf: Buffer): number {
  return buf.length >= 8 ? Number(buf.readBigUInt64LE(0)) : buf.readUInt32LE(0);
}

function acquireModule(table: Pkcs11ModuleTable, modulePath: string): LoadedModule {
  const loadedModules = table.modules as Map<string, LoadedModule>;
  const existing = loadedModules.get(modulePath);
  if (existing !== undefined) {
    existing.refs += 1;
    return existing;
  }
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(modulePath);
  } catch (err) {
    throw new ProvenantError('config', 'PKCS11_MODULE_LOAD', `cannot load PKCS#11 module ${modulePath}: ${errorMessage(err)}`, {
      cause: err,
      context: { configKey: PKCS11_URI_CONFIG_KEY, modulePath, hint: 'mount the module into the container and give its absolute path as module-path' },
    });
  }
  try {
    try {
      // C_Sign runs on libuv's thread pool, so the module must lock for itself.
      p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (ckrOf(err) !== pkcs11js.CKR_CANT_LOCK) throw err;
      p11.C_Initialize();
    }
  } catch (err) {
    if (ckrOf(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      try {
        p11.close();
      } catch {
        // already failing
      }
      throw new ProvenantError('config', 'PKCS11_MODULE_LOAD', `PKCS#11 module ${modulePath} failed to initialise: ${ckrName(err) ?? errorMessage(err)}`, {
        cause: err,
        context: { configKey: PKCS11_URI_CONFIG_KEY, modulePath, hint: 'check the module configuration (e.g. SOFTHSM2_CONF for SoftHSM)' },
      });
    }
  }
  const loaded: LoadedModule = { p11, refs: 1, sessionsPerSlot: new Map() };
  loadedModules.set(modulePath, loaded);
  return loaded;
}

function releaseModule(table: Pkcs11ModuleTable, modulePath: string, loaded: LoadedModule): void {
  loaded.refs -= 1;
  if (loaded.refs > 0) return;
  table.modules.delete(modulePath);
  try {
    loaded.p11.C_Finalize();
  } catch {
    // nothing left to do with a module we are unloading
  }
  try {
    loaded.p11.close();
  } catch {
    // idem
  }
}

async function resolvePin(uri: Pkcs11Uri, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinFile !== undefined) {
    try {
      return (await readFile(uri.pinFile, 'utf8')).replace(/[\r\n]+$/, '');
    } catch (err) {
      throw new ProvenantError('config', 'PKCS11_PIN_UNAVAILABLE', `cannot read the PKCS#11 PIN file ${uri.pinFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
        context: { configKey: PKCS11_URI_CONFIG_KEY, pinFile: uri.pinFile, hint: 'mount the PIN Secret as a file and point pin-source=file:<path> at it' },
      });
    }
  }
  const fromEnv = env['COSIGN_PKCS11_PIN'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function describeToken(uri: Pkcs11Uri): Record<string, unknown> {
  return {
    ...(uri.token === undefined ? {} : { tokenLabel: uri.token }),
    ...(uri.slotId === undefined ? {} : { slotId: uri.slotId }),
    ...(uri.serial === undefined ? {} : { tokenSerial: uri.serial }),
  };
}

function describeKey(uri: Pkcs11Uri): Record<string, unknown> {
  return {
    ...(uri.object === undefined ? {} : { keyLabel: uri.object }),
    ...(uri.id === undefined ? {} : { keyId: uri.id.toString('hex') }),
  };
}

function findSlot(p11: PKCS11, uri: Pkcs11Uri, modulePath: string): { slot: Handle; flags: number } {
  let slots: Handle[];
  try {
    slots = p11.C_GetSlotList(true);
  } catch (err) {
    throw deviceError('C_GetSlotList', err, { modulePath });
  }
  const seen: string[] = [];
  let unreadable: unknown;
  for (const slot of slots) {
    let info: TokenInfo;
    try {
      info = p11.C_GetTokenInfo(slot);
    } catch (err) {
      // A broken or vanished token elsewhere must not hide ours; it only matters if ours is not found.
      if (ckrOf(err) !== pkcs11js.CKR_TOKEN_NOT_PRESENT) unreadable = err;
      continue;
    }
    const label = unpad(info.label);
    seen.push(label);
    if (uri.slotId !== undefined && slotNumber(slot) !== String(uri.slotId)) continue;
    if (uri.token !== undefined && label !== uri.token) continue;
    if (uri.serial !== undefined && unpad(info.serialNumber) !== uri.serial) continue;
    if (uri.manufacturer !== undefined && unpad(info.manufacturerID) !== uri.manufacturer) continue;
    if (uri.model !== undefined && unpad(info.model) !== uri.model) continue;
    return { slot, flags: info.flags };
  }
  if (unreadable !== undefined) throw deviceError('C_GetTokenInfo', unreadable, { modulePath, ...describeToken(uri) });
  throw new ProvenantError('config', 'PKCS11_TOKEN_NOT_FOUND', `no PKCS#11 token matches ${PKCS11_URI_CONFIG_KEY} in module ${modulePath}`, {
    context: { configKey: PKCS11_URI_CONFIG_KEY, modulePath, ...describeToken(uri), availableTokens: seen, hint: 'check the token label (slot ids change when a token is initialised)' },
  });
}

function readAttribute(p11: PKCS11, session: Handle, object: Handle, type: number): Buffer | undefined {
  try {
    const [attr] = p11.C_GetAttributeValue(session, object, [{ type }]);
    return attr?.value;
  } catch (err) {
    const code = ckrOf(err);
    if (code === pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID || code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE) return undefined;
    throw err;
  }
}

function findObjects(p11: PKCS11, session: Handle, template: Template, max: number): Handle[] {
  p11.C_FindObjectsInit(session, template);
  try {
    return p11.C_FindObjects(session, max);
  } finally {
    p11.C_FindObjectsFinal(session);
  }
}

function ecPointToKey(point: Buffer, curve: Curve): KeyObject | undefined {
  const rawLength = 1 + 2 * curve.size;
  let raw: Buffer | undefined;
  // Per the spec CKA_EC_POINT is a DER OCTET STRING; some modules return the bare point.
  if (point.length === rawLength && point[0] === 0x04) raw = point;
  else if (point.length === rawLength + 2 && point[0] === 0x04 && point[1] === rawLength) raw = point.subarray(2);
  else if (point.length === rawLength + 3 && point[0] === 0x04 && point[1] === 0x81 && point[2] === rawLength) raw = point.subarray(3);
  if (raw === undefined || raw[0] !== 0x04) return undefined;
  const x = raw.subarray(1, 1 + curve.size).toString('base64url');
  const y = raw.subarray(1 + curve.size).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: curve.name, x, y }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

interface KeyHandles {
  readonly privateKey: Handle;
  readonly curve: Curve;
  readonly alwaysAuthenticate: boolean;
  readonly publicKey: KeyObject;
}

function unsupported(message: string, uri: Pkcs11Uri, extra: Record<string, unknown> = {}): ProvenantError {
  return new ProvenantError('config', 'PKCS11_KEY_UNSUPPORTED', message, {
    context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeKey(uri), ...extra, hint: 'use an EC P-256 or P-384 key with CKA_SIGN' },
  });
}

function findKey(p11: PKCS11, session: Handle, uri: Pkcs11Uri, logger: Logger): KeyHandles {
  const match: Template = [
    ...(uri.object === undefined ? [] : [{ type: pkcs11js.CKA_LABEL, value: uri.object }]),
    ...(uri.id === undefined ? [] : [{ type: pkcs11js.CKA_ID, value: uri.id }]),
  ];
  const found = findObjects(p11, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, ...match], 2);
  const privateKey = found[0];
  if (privateKey === undefined) {
    throw new ProvenantError('config', 'PKCS11_KEY_NOT_FOUND', `no private key on the PKCS#11 token matches ${PKCS11_URI_CONFIG_KEY}`, {
      context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeKey(uri), hint: 'check object= (CKA_LABEL) and id= (CKA_ID, percent-encoded bytes)' },
    });
  }
  if (found.length > 1) logger.warn({ ...describeKey(uri) }, 'several PKCS#11 private keys match; using the first (add id= to disambiguate)');

  const keyType = readAttribute(p11, session, privateKey, pkcs11js.CKA_KEY_TYPE);
  if (keyType === undefined || ulong(keyType) !== pkcs11js.CKK_EC) {
    throw unsupported('the PKCS#11 key is not an EC key', uri);
  }
  const canSign = readAttribute(p11, session, privateKey, pkcs11js.CKA_SIGN);
  if (canSign !== undefined && canSign[0] === 0) throw unsupported('the PKCS#11 key does not allow signing (CKA_SIGN false)', uri);
  const alwaysAuth = readAttribute(p11, session, privateKey, pkcs11js.CKA_ALWAYS_AUTHENTICATE);
  const id = readAttribute(p11, session, privateKey, pkcs11js.CKA_ID) ?? uri.id;
  const label = readAttribute(p11, session, privateKey, pkcs11js.CKA_LABEL);

  // The public half: a public key object, else a certificate, with the same CKA_ID (or label).
  const sameKey: Template =
    id !== undefined && id.length > 0
      ? [{ type: pkcs11js.CKA_ID, value: id }]
      : label !== undefined && label.length > 0
        ? [{ type: pkcs11js.CKA_LABEL, value: label }]
        : match;
  let params = readAttribute(p11, session, privateKey, pkcs11js.CKA_EC_PARAMS);
  let publicKey: KeyObject | undefined;
  const [pubObject] = findObjects(p11, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, ...sameKey], 1);
  if (pubObject !== undefined) {
    params ??= readAttribute(p11, session, pubObject, pkcs11js.CKA_EC_PARAMS);
    const curve = params === undefined ? undefined : CURVES.get(params.toString('hex'));
    const point = readAttribute(p11, session, pubObject, pkcs11js.CKA_EC_POINT);
    if (curve !== undefined && point !== undefined) publicKey = ecPointToKey(point, curve);
  }
  if (publicKey === undefined) {
    const [certObject] = findObjects(p11, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE }, ...sameKey], 1);
    const der = certObject === undefined ? undefined : readAttribute(p11, session, certObject, pkcs11js.CKA_VALUE);
    if (der !== undefined) {
      try {
        publicKey = new X509Certificate(der).publicKey;
      } catch {
        publicKey = undefined;
      }
    }
  }
  if (publicKey === undefined) {
    throw new ProvenantError('config', 'PKCS11_KEY_NOT_FOUND', 'found the PKCS#11 private key but no public key or certificate object with the same id', {
      context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeKey(uri), hint: 'store the public key (or a certificate) on the token with the same CKA_ID' },
    });
  }
  const jwk = publicKey.export({ format: 'jwk' });
  const curve = [...CURVES.values()].find((c) => c.name === jwk.crv);
  if (publicKey.asymmetricKeyType !== 'ec' || curve === undefined) {
    throw unsupported('the PKCS#11 key is on an unsupported curve', uri, { curve: jwk.crv });
  }
  if (params !== undefined && CURVES.get(params.toString('hex'))?.name !== curve.name) {
    throw unsupported('the PKCS#11 key is on an unsupported curve', uri, { ecParams: params.toString('hex') });
  }
  return { privateKey, curve, alwaysAuthenticate: alwaysAuth !== undefined && alwaysAuth[0] !== 0, publicKey };
}

/**
 * Create a signer for the key a `pkcs11:` URI names. Opens and logs in one session now, so a bad
 * module, token, PIN or key fails at load time with a `config` error; device trouble is `transient`.
 */
export async function createPkcs11Signer(ref: string, deps: SignerDeps): Promise<KeySigner> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  const uri = parsePkcs11Uri(ref);
  const modulePath = uri.modulePath ?? env['COSIGN_PKCS11_MODULE_PATH'];
  if (modulePath === undefined || modulePath === '' || !modulePath.startsWith('/')) {
    throw new ProvenantError('config', 'PKCS11_URI_INVALID', `${PKCS11_URI_CONFIG_KEY}: invalid PKCS#11 URI: module-path (or COSIGN_PKCS11_MODULE_PATH) must be an absolute path`, {
      context: { configKey: PKCS11_URI_CONFIG_KEY, hint: 'add ?module-path=/path/to/module.so' },
    });
  }
  const pin = await resolvePin(uri, env);

  const modules = deps.pkcs11Modules ?? createPkcs11ModuleTable();
  const loaded = acquireModule(modules, modulePath);
  const { p11 } = loaded;
  let slotKey: string | undefined;
  let session: Handle | undefined;
  let key: KeyHandles | undefined;
  let closed = false;

  const closeSession = (): void => {
    if (session === undefined) return;
    const s = session;
    session = undefined;
    try {
      p11.C_CloseSession(s);
    } catch {
      // already gone: that is why we are closing it
    }
  };

  const login = (s: Handle, userType: number): void => {
    try {
      p11.C_Login(s, userType, pin);
    } catch (err) {
      const code = ckrOf(err);
      if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
      if (code !== undefined && PIN_REJECTED.has(code)) {
        throw new ProvenantError('config', 'PKCS11_PIN_INCORRECT', `the PKCS#11 token rejected the PIN (${ckrName(err)})`, {
          cause: err,
          context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeToken(uri), ckr: ckrName(err), hint: 'check the PIN Secret; repeated failures can lock the token' },
        });
      }
      throw deviceError('C_Login', err, describeToken(uri));
    }
  };

  /** Find the token, open a session, log in, find the key. Used at start and after the session is lost. */
  const open = (): KeyHandles => {
    const { slot, flags } = findSlot(p11, uri, modulePath);
    const thisSlot = slotNumber(slot);
    try {
      session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    } catch (err) {
      throw deviceError('C_OpenSession', err, describeToken(uri));
    }
    if (slotKey !== thisSlot) {
      if (slotKey !== undefined) loaded.sessionsPerSlot.set(slotKey, (loaded.sessionsPerSlot.get(slotKey) ?? 1) - 1);
      slotKey = thisSlot;
      loaded.sessionsPerSlot.set(thisSlot, (loaded.sessionsPerSlot.get(thisSlot) ?? 0) + 1);
    }
    if ((flags & pkcs11js.CKF_LOGIN_REQUIRED) !== 0) {
      if (pin === undefined && (flags & pkcs11js.CKF_PROTECTED_AUTHENTICATION_PATH) === 0) {
        throw new ProvenantError('config', 'PKCS11_PIN_UNAVAILABLE', 'the PKCS#11 token needs a PIN and none was given', {
          context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeToken(uri), hint: 'add pin-source=file:<path> to the URI (or set COSIGN_PKCS11_PIN)' },
        });
      }
      login(session, pkcs11js.CKU_USER);
    }
    try {
      return findKey(p11, session, uri, logger);
    } catch (err) {
      if (err instanceof ProvenantError) throw err;
      throw deviceError('key lookup', err, describeKey(uri));
    }
  };

  const releaseSlot = (): void => {
    if (slotKey === undefined) return;
    const left = (loaded.sessionsPerSlot.get(slotKey) ?? 1) - 1;
    loaded.sessionsPerSlot.set(slotKey, left);
    if (left <= 0) {
      loaded.sessionsPerSlot.delete(slotKey);
      // Logging out ends the login of every session of this process on the token: only the last one does it.
      if (session !== undefined) {
        try {
          p11.C_Logout(session);
        } catch {
          // not logged in any more
        }
      }
    }
    slotKey = undefined;
  };

  try {
    key = open();
  } catch (err) {
    releaseSlot();
    closeSession();
    releaseModule(modules, modulePath, loaded);
    throw err;
  }

  const publicKeyPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const hint = createHash('sha256').update(key.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  const { curve } = key;
  logger.info(
    { modulePath, ...describeToken(uri), ...describeKey(uri), slot: slotKey, algorithm: curve.algorithm, keyHint: hint, alwaysAuthenticate: key.alwaysAuthenticate },
    'PKCS#11 signer ready',
  );

  const signOnce = async (digest: Buffer): Promise<Buffer> => {
    if (session === undefined || key === undefined) throw Object.assign(new Error('no session'), { code: pkcs11js.CKR_SESSION_HANDLE_INVALID });
    const s = session;
    p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, key.privateKey);
    // Keys with CKA_ALWAYS_AUTHENTICATE (YubiKey PIV slot 9c) need the PIN again for every signature.
    if (key.alwaysAuthenticate) login(s, pkcs11js.CKU_CONTEXT_SPECIFIC);
    return p11.C_SignAsync(s, digest, Buffer.alloc(2 * curve.size));
  };

  // PKCS#11 sessions handle one operation at a time.
  const serialise = createMutex();

  const sign = async (data: Buffer): Promise<Signature> =>
    serialise(async () => {
      if (closed) {
        throw new ProvenantError('transient', 'PKCS11_SIGNER_CLOSED', 'the PKCS#11 signer was closed (configuration reload); retry with the new signer');
      }
      const digest = createHash(curve.hash).update(data).digest();
      let raw: Buffer;
      try {
        raw = await signOnce(digest);
      } catch (err) {
        if (err instanceof ProvenantError) throw err;
        const code = ckrOf(err) ?? (err as { code?: unknown }).code;
        if (typeof code !== 'number' || !SESSION_LOST.has(code)) throw deviceError('C_Sign', err, describeKey(uri));
        logger.warn({ ckr: ckrName(err), ...describeToken(uri) }, 'PKCS#11 session lost; reopening it');
        closeSession();
        try {
          const reopened = open();
          if (key === undefined || !reopened.publicKey.equals(key.publicKey)) {
            throw new ProvenantError('config', 'PKCS11_KEY_NOT_FOUND', 'the PKCS#11 key changed on the token since the signer started', {
              context: { configKey: PKCS11_URI_CONFIG_KEY, ...describeKey(uri) },
            });
          }
          key = reopened;
        } catch (reopenErr) {
          closeSession();
          // The token was there when we started: its absence now is a device problem worth retrying.
          if (reopenErr instanceof ProvenantError && reopenErr.code === 'PKCS11_TOKEN_NOT_FOUND') {
            throw deviceError('session reopen', reopenErr, describeToken(uri));
          }
          throw reopenErr;
        }
        try {
          raw = await signOnce(digest);
        } catch (retryErr) {
          if (retryErr instanceof ProvenantError) throw retryErr;
          throw deviceError('C_Sign', retryErr, describeKey(uri));
        }
      }
      if (raw.length !== 2 * curve.size) {
        throw new ProvenantError('transient', 'PKCS11_DEVICE_ERROR', `PKCS#11 C_Sign returned ${raw.length} bytes, expected ${2 * curve.size}`, {
          context: describeKey(uri),
        });
      }
      return { signature: rawEcdsaToDer(raw), key: { $case: 'publicKey', publicKey: publicKeyPem, hint } };
    });

  const close = async (): Promise<void> =>
    serialise(async () => {
      if (closed) return;
      closed = true;
      releaseSlot();
      closeSession();
      releaseModule(modules, modulePath, loaded);
      logger.debug({ ...describeToken(uri) }, 'PKCS#11 signer closed');
    });

  return { sign, close, publicKeyPem, algorithm: curve.algorithm };
}
