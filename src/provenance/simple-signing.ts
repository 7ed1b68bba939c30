import { goJsonString } from './go-json.js';

/**
 * cosign's simple-signing payload for one image (`payload.SimpleContainerImage` marshalled by Go
 * encoding/json): exact bytes, field order critical.identity, critical.image, critical.type, then
 * `"optional":null`. `name` is the repository without tag or digest.
 */
export function simpleSigningPayload(image: { name: string; digest: string }): Uint8Array {
  const json =
    `{"critical":{"identity":{"docker-reference":${goJsonString(image.name)}},` +
    `"image":{"docker-manifest-digest":${goJsonString(image.digest)}},` +
    `"type":"cosign container image signature"},"optional":null}`;
  return new TextEncoder().encode(json);
}
