/**
 * PKCS#11 URIs (RFC 7512) as cosign writes them in `signers.kms.kmsref`:
 *
 *   pkcs11:token=<label>;object=<key label>;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/pin
 *
 * Parsing is pure (no file or environment access) so config validation can call it at load time;
 * the signer reads `pin-source` files and the `COSIGN_PKCS11_*` fallbacks itself.
 */
import { ProvenantError } from '../errors.js';

export const PKCS11_URI_CONFIG_KEY = 'signers.kms.kmsref';

export interface Pkcs11Uri {
  /** Absolute path of the PKCS#11 module (`module-path`); absent means "use COSIGN_PKCS11_MODULE_PATH". */
  readonly modulePath?: string;
  /** Token label (`token`), matched against CK_TOKEN_INFO.label with the blank padding removed. */
  readonly token?: string;
  /** Slot id (`slot-id`), decimal. Slot ids can change when tokens are (re)initialised; prefer `token`. */
  readonly slotId?: number;
  /** Token serial number (`serial`). */
  readonly serial?: string;
  /** Token manufacturer (`manufacturer`). */
  readonly manufacturer?: string;
  /** Token model (`model`). */
  readonly model?: string;
  /** Key label (`object`), CKA_LABEL. */
  readonly object?: string;
  /** Key id (`id`), CKA_ID bytes, e.g. `%01` for PIV slot 9a on a YubiKey. */
  readonly id?: Buffer;
  /** PIN given inline (`pin-value`). Never log it. */
  readonly pinValue?: string;
  /** File path of the PIN (`pin-source=file:/path`). */
  readonly pinFile?: string;
}

const PATH_ATTRIBUTES = new Set([
  'token',
  'slot-id',
  'serial',
  'manufacturer',
  'model',
  'object',
  'id',
  'type',
  'library-description',
  'library-manufacturer',
  'library-version',
  'slot-description',
  'slot-manufacturer',
]);

/** Path attributes we accept but do not match on; RFC 7512 says unknown ones must not match, so we refuse those. */
const IGNORED_PATH_ATTRIBUTES = new Set([
  'library-description',
  'library-manufacturer',
  'library-version',
  'slot-description',
  'slot-manufacturer',
]);

const QUERY_ATTRIBUTES = new Set(['module-path', 'module-name', 'pin-value', 'pin-source']);

function invalid(problem: string): ProvenantError {
  // Never include the URI itself: it may carry pin-value.
  return new ProvenantError('config', 'PKCS11_URI_INVALID', `${PKCS11_URI_CONFIG_KEY}: invalid PKCS#11 URI: ${problem}`, {
    context: {
      configKey: PKCS11_URI_CONFIG_KEY,
      hint: 'use pkcs11:token=<label>;object=<key label>?module-path=<absolute path>&pin-source=file:<path> (RFC 7512)',
    },
  });
}

/** RFC 3986 percent-decoding to bytes; `+` stays a literal plus (RFC 7512 lists it as a plain character). */
function percentDecode(value: string, attribute: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i] as string;
    if (ch === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalid(`bad percent-encoding in attribute '${attribute}'`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

function decodeText(value: string, attribute: string): string {
  const bytes = percentDecode(value, attribute);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`attribute '${attribute}' is not valid UTF-8 after percent-decoding`);
  }
}

function splitAttributes(part: string, separator: string, known: Set<string>, where: string): Map<string, string> {
  const out = new Map<string, string>();
  if (part === '') return out;
  for (const item of part.split(separator)) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(`${where} attribute without a name or '='`);
    const name = decodeText(item.slice(0, eq), 'name').toLowerCase();
    const raw = item.slice(eq + 1);
    if (!known.has(name) && !name.startsWith('x-')) throw invalid(`unknown ${where} attribute '${name}'`);
    if (out.has(name)) throw invalid(`${where} attribute '${name}' given more than once`);
    out.set(name, raw);
  }
  return out;
}

function pinFileFromSource(source: string): string {
  if (source.startsWith('file://')) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw invalid("pin-source is not a valid 'file:' URI");
    }
    if (url.host !== '' && url.host !== 'localhost') throw invalid("pin-source 'file:' URI must not name a remote host");
    return decodeURIComponent(url.pathname);
  }
  if (source.startsWith('file:')) return source.slice('file:'.length);
  if (source.startsWith('/')) return source;
  throw invalid("pin-source must be 'file:<absolute path>'");
}

/**
 * Parse a `pkcs11:` URI. Throws ProvenantError `config`/`PKCS11_URI_INVALID` naming `signers.kms.kmsref`;
 * messages name attributes but never their values (pin-value is a secret).
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.toLowerCase().startsWith('pkcs11:')) throw invalid("scheme must be 'pkcs11:'");
  const rest = uri.slice('pkcs11:'.length);
  if (rest.includes('#')) throw invalid('fragments are not allowed');
  const q = rest.indexOf('?');
  const pathPart = q === -1 ? rest : rest.slice(0, q);
  const queryPart = q === -1 ? '' : rest.slice(q + 1);

  const pathAttrs = splitAttributes(pathPart, ';', PATH_ATTRIBUTES, 'path');
  // cosign accepts ';' in the query as well as '&'.
  const queryAttrs = splitAttributes(queryPart.replaceAll(';', '&'), '&', QUERY_ATTRIBUTES, 'query');

  const result: {
    -readonly [K in keyof Pkcs11Uri]: Pkcs11Uri[K];
  } = {};

  for (const [name, raw] of pathAttrs) {
    if (IGNORED_PATH_ATTRIBUTES.has(name) || name.startsWith('x-')) continue;
    switch (name) {
      case 'token':
        result.token = decodeText(raw, name);
        break;
      case 'serial':
        result.serial = decodeText(raw, name);
        break;
      case 'manufacturer':
        result.manufacturer = decodeText(raw, name);
        break;
      case 'model':
        result.model = decodeText(raw, name);
        break;
      case 'object':
        result.object = decodeText(raw, name);
        break;
      case 'id': {
        const id = percentDecode(raw, name);
        if (id.length === 0) throw invalid("attribute 'id' is empty");
        result.id = id;
        break;
      }
      case 'slot-id': {
        const text = decodeText(raw, name);
        if (!/^[0-9]{1,20}$/.test(text)) throw invalid("slot-id must be a decimal number");
        const n = Number(text);
        if (!Number.isSafeInteger(n)) throw invalid('slot-id is out of range');
        result.slotId = n;
        break;
      }
      case 'type': {
        const type = decodeText(raw, name);
        if (type !== 'private') throw invalid("only type=private can sign");
        break;
      }
    }
  }

  for (const [name, raw] of queryAttrs) {
    if (name.startsWith('x-')) continue;
    switch (name) {
      case 'module-path': {
        const modulePath = decodeText(raw, name);
        if (!modulePath.startsWith('/')) throw invalid('module-path must be an absolute path');
        result.modulePath = modulePath;
        break;
      }
      case 'module-name':
        throw invalid('module-name is not supported; give module-path (absolute path of the module)');
      case 'pin-value':
        result.pinValue = decodeText(raw, name);
        break;
      case 'pin-source': {
        const file = pinFileFromSource(decodeText(raw, name));
        if (!file.startsWith('/')) throw invalid('pin-source file path must be absolute');
        result.pinFile = file;
        break;
      }
    }
  }

  if (result.pinValue !== undefined && result.pinFile !== undefined) throw invalid('give pin-value or pin-source, not both');
  if (result.token === undefined && result.slotId === undefined && result.serial === undefined) {
    throw invalid('one of token, serial or slot-id must be set');
  }
  if (result.object === undefined && result.id === undefined) throw invalid('one of object and id must be set');
  if (result.object === '') throw invalid("attribute 'object' is empty");
  if (result.token === '') throw invalid("attribute 'token' is empty");
  return result;
}
