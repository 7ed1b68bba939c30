import type { SerializedBundle } from '@sigstore/bundle';
import type { RunKey } from '../tekton/index.js';

import type { ArtifactSubject } from '../provenance/index.js';

/** An artifact subject: an image or file the signed payload is about (provenance/ owns the shape). */
export type { ArtifactSubject };

/**
 * One signed artifact to store. `provenance`: the bundle holds a DSSE envelope over an in-toto
 * statement (payload = the statement bytes). `image-signature`: the bundle holds a message
 * signature over a simple-signing payload (payload = those exact bytes) for one image.
 */
export interface StoreRequest {
  readonly run: RunKey;
  readonly artifact: {
    readonly type: 'provenance' | 'image-signature';
    /** Chains' short key: `taskrun-<uid>`, `pipelinerun-<uid>`, or the first 12 hex of an image digest. */
    readonly shortKey: string;
    /** For provenance: every subject of the statement; for an image signature: the one image. */
    readonly subjects: readonly ArtifactSubject[];
    /** in-toto predicate type, for provenance. */
    readonly predicateType?: string;
  };
  /** The exact signed payload bytes (statement JSON or simple-signing JSON). */
  readonly payload: Uint8Array;
  /** Sigstore bundle v0.3 (with tlog entry when transparency is on). */
  readonly bundle: SerializedBundle;
  /**
   * The run's annotations as the caller knows them (the live run plus annotations still pending
   * from earlier artifacts), so `tekton` storage checks the size without reading the run again.
   */
  readonly runAnnotations?: Readonly<Record<string, string>>;
}

export interface StoreResult {
  readonly backend: string;
  /** Human-readable locations written (tags, digests, paths, annotation keys). */
  readonly locations: readonly string[];
  /**
   * Annotations the caller writes with its one final patch of the run (`tekton` storage with
   * `deferPatch`): not on the run yet, so the store is not done until that patch lands.
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A storage backend. `store` must be idempotent: storing the same request twice changes nothing. */
export interface StorageBackend {
  readonly name: string;
  store(request: StoreRequest): Promise<StoreResult>;
  /** Releases connections (a database client); called when the wiring or the CLI command is done. */
  close?(): Promise<void>;
}
