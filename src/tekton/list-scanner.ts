/**
 * Splits a Kubernetes list response (`{"kind":…,"metadata":{…},"items":[{…},…]}`) into its items
 * while the bytes arrive, without parsing them: each item comes out as the bytes of one JSON object,
 * to be parsed when the consumer reaches it. A page of 500 signed runs is ~8 MB of JSON; read whole
 * and parsed at once it is held two or three times over (chunks, joined buffer, objects), and
 * the freed buffers stay in the process's RSS (docs/kubernetes-client.md, "Memory").
 *
 * Works on bytes: UTF-8 never puts a byte below 0x80 inside a multi-byte character, so quotes,
 * brackets and braces are found by byte value. Items must be objects (they are, in a list).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** The list's own fields, known once the whole document was scanned. */
export interface ListMeta {
  readonly resourceVersion?: string;
  readonly continue?: string;
}

export class ListScanner {
  /** Open containers; the list object itself is depth 1. */
  private depth = 0;
  private inString = false;
  private escapeNext = false;
  /** At depth 1: the next string is a key (after `{` or `,`), not a value (after `:`). */
  private expectKey = true;
  private key: Buffer[] | undefined;
  private lastKey = '';
  /** Inside the `items` array (depth 2 between items). */
  private inItems = false;
  /** Pieces of the value being captured (an item, or `metadata`), and where it ends. */
  private capture: Buffer[] | undefined;
  private captureDepth = 0;
  private capturing: 'item' | 'metadata' | undefined;
  private metadataBytes: Buffer | undefined;
  private done = false;
  private started = false;

  /** Feeds the next chunk; returns the items completed in it (each the bytes of one JSON object). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const n = chunk.length;
    let i = 0;
    let captureFrom = this.capture === undefined ? -1 : 0;
    let keyFrom = this.key === undefined ? -1 : 0;
    let nextBackslash = -2;
    while (i < n) {
      if (this.inString) {
        if (this.escapeNext) {
          this.escapeNext = false;
          i++;
          continue;
        }
        const q = chunk.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        if (nextBackslash !== -1 && (q === -1 || nextBackslash < q)) {
          i = nextBackslash + 1;
          this.escapeNext = true;
          continue;
        }
        if (q === -1) break; // the string goes on in the next chunk
        i = q + 1;
        this.inString = false;
        if (this.key !== undefined) {
          this.key.push(chunk.subarray(keyFrom, i));
          this.lastKey = JSON.parse(Buffer.concat(this.key).toString('utf8')) as string;
          this.key = undefined;
          keyFrom = -1;
        }
        continue;
      }
      const b = chunk[i] as number;
      if (isSpace(b)) {
        i++;
        continue;
      }
      if (this.done) throw new Error('data after the end of the list');
      if (!this.started) {
        if (b !== OPEN_BRACE) throw new Error('a list is a JSON object');
        this.started = true;
      }
      if (this.depth === 2 && this.inItems && this.capture === undefined && b !== OPEN_BRACE && b !== COMMA && b !== CLOSE_BRACKET) {
        throw new Error('list items must be objects');
      }
      if (b === QUOTE) {
        // A key of the list object; string values (`kind`, …) are skipped like any string.
        if (this.depth === 1 && this.expectKey) {
          this.key = [];
          keyFrom = i;
        }
        this.inString = true;
        i++;
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (this.depth === 1 && !this.expectKey && this.capture === undefined) {
          if (this.lastKey === 'items' && b === OPEN_BRACKET) this.inItems = true;
          else if (this.lastKey === 'metadata' && b === OPEN_BRACE) {
            this.startCapture('metadata');
            captureFrom = i;
          }
        } else if (this.depth === 2 && this.inItems && this.capture === undefined) {
          if (b !== OPEN_BRACE) throw new Error('list items must be objects');
          this.startCapture('item');
          captureFrom = i;
        }
        this.depth++;
        i++;
        continue;
      }
      if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        this.depth--;
        i++;
        if (this.depth < 0) throw new Error('unbalanced list document');
        if (this.capture !== undefined && this.depth === this.captureDepth) {
          this.capture.push(chunk.subarray(captureFrom, i));
          const bytes = this.capture.length === 1 ? (this.capture[0] as Buffer) : Buffer.concat(this.capture);
          if (this.capturing === 'item') out.push(bytes);
          else this.metadataBytes = Buffer.from(bytes);
          this.capture = undefined;
          this.capturing = undefined;
          captureFrom = -1;
        } else if (this.depth === 1 && this.inItems) {
          this.inItems = false;
        } else if (this.depth === 0) {
          this.done = true;
        }
        continue;
      }
      if (this.depth === 1) {
        if (b === COLON) this.expectKey = false;
        else if (b === COMMA) this.expectKey = true;
      }
      i++;
    }
    if (this.capture !== undefined && captureFrom >= 0) this.capture.push(chunk.subarray(captureFrom, n));
    if (this.key !== undefined && keyFrom >= 0) this.key.push(chunk.subarray(keyFrom, n));
    return out;
  }

  private startCapture(kind: 'item' | 'metadata'): void {
    this.capture = [];
    this.capturing = kind;
    this.captureDepth = this.depth;
  }

  /** After the last chunk: the list's metadata; throws when the document was cut short. */
  end(): ListMeta {
    if (!this.done || this.inString) throw new Error('the list document ended early');
    if (this.metadataBytes === undefined) return {};
    const md = JSON.parse(this.metadataBytes.toString('utf8')) as { resourceVersion?: unknown; continue?: unknown };
    return {
      ...(typeof md.resourceVersion === 'string' ? { resourceVersion: md.resourceVersion } : {}),
      ...(typeof md.continue === 'string' && md.continue !== '' ? { continue: md.continue } : {}),
    };
  }
}
