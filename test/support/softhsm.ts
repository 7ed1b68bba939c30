/**
 * A throwaway SoftHSM2 token for integration tests. Keys and PINs here are test-only.
 *
 * SoftHSM reads SOFTHSM2_CONF at C_Initialize, so `startSoftHsm` sets it in process.env (restored by
 * `stop()`); every module user in this process, and every `softhsm2-util` child, sees the same token dir.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pkcs11js from 'pkcs11js';

const execFileAsync = promisify(execFile);

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const YKCS11_MODULE = '/usr/lib/x86_64-linux-gnu/libykcs11.so';

export interface SoftHsm {
  readonly dir: string;
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  /** Write the PIN to a file (with a trailing newline, like `echo`) and return its path. */
  writePinFile(content?: string): Promise<string>;
  /** Generate an EC key pair on the token (CKM_EC_KEY_PAIR_GEN), private key with CKA_SIGN. */
  generateEcKey(options: { label: string; id: Buffer; curve?: 'P-256' | 'P-384'; alwaysAuthenticate?: boolean; token?: string }): void;
  /** Import a PKCS#8 PEM private key (and its public key) with `softhsm2-util --import`. */
  importKey(options: { label: string; id: Buffer; pkcs8Pem: string }): Promise<void>;
  /** Initialise another token in the same token directory (visible to modules initialised afterwards). */
  initToken(label: string): Promise<void>;
  /** Delete a token's files, as if the device had gone away. */
  deleteToken(label: string): Promise<void>;
  stop(): Promise<void>;
}

const CURVE_OIDS = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'P-384': Buffer.from('06052b81040022', 'hex'),
} as const;

export async function startSoftHsm(options: { tokenLabel?: string; pin?: string; soPin?: string } = {}): Promise<SoftHsm> {
  const tokenLabel = options.tokenLabel ?? 'provenant-test';
  const pin = options.pin ?? '123456';
  const soPin = options.soPin ?? '654321';
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  await mkdir(tokenDir);
  const conf = path.join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const previousConf = process.env['SOFTHSM2_CONF'];
  process.env['SOFTHSM2_CONF'] = conf;

  await execFileAsync('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', soPin], {
    env: process.env,
  });

  let pinFiles = 0;

  return {
    dir,
    modulePath: SOFTHSM_MODULE,
    tokenLabel,
    pin,
    soPin,
    async writePinFile(content = `${pin}\n`) {
      pinFiles += 1;
      const file = path.join(dir, `pin-${pinFiles}`);
      await writeFile(file, content, { mode: 0o600 });
      return file;
    },
    generateEcKey({ label, id, curve = 'P-256', alwaysAuthenticate = false, token = tokenLabel }) {
      const p = new pkcs11js.PKCS11();
      p.load(SOFTHSM_MODULE);
      // If a signer in this process already initialised the module, share it and leave finalising to it.
      let initialised = false;
      try {
        p.C_Initialize();
        initialised = true;
      } catch (err) {
        if ((err as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
      }
      try {
        const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === token);
        if (slot === undefined) throw new Error(`token ${token} not found`);
        const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        try {
          try {
            p.C_Login(session, pkcs11js.CKU_USER, pin);
          } catch (err) {
            if ((err as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
          }
          p.C_GenerateKeyPair(
            session,
            { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
            [
              { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
              { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
              { type: pkcs11js.CKA_TOKEN, value: true },
              { type: pkcs11js.CKA_VERIFY, value: true },
              { type: pkcs11js.CKA_LABEL, value: label },
              { type: pkcs11js.CKA_ID, value: id },
              { type: pkcs11js.CKA_EC_PARAMS, value: CURVE_OIDS[curve] },
            ],
            [
              { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
              { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
              { type: pkcs11js.CKA_TOKEN, value: true },
              { type: pkcs11js.CKA_PRIVATE, value: true },
              { type: pkcs11js.CKA_SENSITIVE, value: true },
              { type: pkcs11js.CKA_EXTRACTABLE, value: false },
              { type: pkcs11js.CKA_SIGN, value: true },
              { type: pkcs11js.CKA_LABEL, value: label },
              { type: pkcs11js.CKA_ID, value: id },
              ...(alwaysAuthenticate ? [{ type: pkcs11js.CKA_ALWAYS_AUTHENTICATE, value: true }] : []),
            ],
          );
        } finally {
          p.C_CloseSession(session);
        }
      } finally {
        if (initialised) p.C_Finalize();
      }
    },
    async importKey({ label, id, pkcs8Pem }) {
      const file = path.join(dir, `import-${id.toString('hex')}.pem`);
      await writeFile(file, pkcs8Pem, { mode: 0o600 });
      try {
        await execFileAsync(
          'softhsm2-util',
          ['--import', file, '--token', tokenLabel, '--label', label, '--id', id.toString('hex'), '--pin', pin],
          { env: process.env },
        );
      } finally {
        await rm(file, { force: true });
      }
    },
    async initToken(label) {
      await execFileAsync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], {
        env: process.env,
      });
    },
    async deleteToken(label) {
      await execFileAsync('softhsm2-util', ['--delete-token', '--token', label], { env: process.env });
    },
    async stop() {
      if (previousConf === undefined) delete process.env['SOFTHSM2_CONF'];
      else process.env['SOFTHSM2_CONF'] = previousConf;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
