/**
 * `oci` storage backend: cosign's legacy `.att`/`.sig` tags and/or the Sigstore bundle as an OCI 1.1
 * referrer (with the referrers tag-schema fallback), per `storage.oci.encoding-format`.
 * Layout rules and their sources: docs/oci-layout.md.
 */
import type { Config } from '../../config/index.js';
import type { Logger } from '../../observability/index.js';
import { ProvenantError } from '../../errors.js';
import type { ArtifactSubject, StorageBackend, StoreRequest, StoreResult } from '../types.js';
import type { DockerCredentials } from './credentials.js';
import { createRegistryClient, sha256Digest, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, type Descriptor, type RegistryClient } from './registry-client.js';
import { digestTag, formatRepository, isSha256Digest, parseRepository, type ImageDigestRef, type RepositoryRef } from './reference.js';
import {
  EMPTY_JSON,
  MEDIA_TYPE_BUNDLE_V03,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_EMPTY,
  attestationLayer,
  bundleAnnotations,
  bundleReferrerManifest,
  indexHas,
  mergeReferrersIndex,
  mergeSignatureManifest,
  signatureImageConfig,
  signatureLayer,
  type Layer,
} from './layouts.js';
import { withAttestationTimestamp, type LayerTimestamper } from './layer-timestamp.js';
import { createTagWriter, type Doc, type TagKind, type TagUpdateOptions, type TagWriter } from './tag-update.js';

export interface OciStorageDeps {
  readonly config: Config['storage']['oci'];
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
  /** `<namespace>/<name>` of the ServiceAccount whose pull secrets gave the credentials; named in auth errors. */
  readonly serviceAccount?: string | undefined;
  /** RFC 3161 timestamps over `.att` layer bytes (`signers.x509.tsa.url`); see layer-timestamp.ts. */
  readonly timestamper?: LayerTimestamper | undefined;
  /** The process's tag writer (coordination + coalescing); default a `{mode: 'process'}` one of its own. */
  readonly tagWriter?: TagWriter;
  /** Tuning of the default tag writer's read-modify-write (tests shorten the settle time). */
  readonly tagUpdate?: Partial<TagUpdateOptions>;
}

/** The override repository (`storage.oci.repository`), validated once; throws `config` `OCI_REPOSITORY_INVALID`. */
export function parseRepositoryOverride(value: string | undefined): RepositoryRef | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const ref = parseRepository(value.trim());
  if (ref === undefined || value.includes('@')) {
    throw new ProvenantError('config', 'OCI_REPOSITORY_INVALID', `storage.oci.repository is not a repository reference: ${value}`, {
      context: { key: 'storage.oci.repository', hint: 'e.g. registry.example.com/team/attestations' },
    });
  }
  return ref;
}

/** Subjects that are OCI images: a sha256 digest and a name that parses as a registry repository. */
export function imageSubjects(subjects: readonly ArtifactSubject[]): { images: ImageDigestRef[]; skipped: ArtifactSubject[] } {
  const images: ImageDigestRef[] = [];
  const skipped: ArtifactSubject[] = [];
  for (const s of subjects) {
    const hex = s.digest['sha256'];
    const repo = parseRepository(s.name);
    const digest = `sha256:${hex ?? ''}`;
    if (repo === undefined || hex === undefined || !isSha256Digest(digest)) {
      skipped.push(s);
      continue;
    }
    if (!images.some((i) => i.registry === repo.registry && i.repository === repo.repository && i.digest === digest)) {
      images.push({ ...repo, digest });
    }
  }
  return { images, skipped };
}

/** Subject descriptors remembered per (run, image): a few hundred runs in flight, a few images each. */
const maxSubjectEntries = 4096;

export function createOciStorage(deps: OciStorageDeps): StorageBackend {
  const override = parseRepositoryOverride(deps.config.repository);
  const encoding = deps.config.encoding;
  const tagWriter = deps.tagWriter ?? createTagWriter({ mode: 'process' }, deps.tagUpdate);
  const log = deps.logger.child({ backend: 'oci' });
  const clients = new Map<string, RegistryClient>();

  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (c === undefined) {
      c = createRegistryClient({
        registry,
        insecure: deps.config.insecure,
        credentials: deps.credentials,
        logger: log,
        fetch: deps.fetch,
        serviceAccount: deps.serviceAccount,
        actions: 'pull,push',
      });
      clients.set(registry, c);
    }
    return c;
  };

  /**
   * The subject manifest HEAD, once per image per run: a run's provenance and its image signature
   * both need it, and they are stored concurrently. Keyed by run uid, so every run still checks
   * that its images exist; the promise is shared while in flight and forgotten on failure.
   */
  const subjects = new Map<string, Promise<Descriptor>>();
  function subjectDescriptor(run: StoreRequest['run'], image: ImageDigestRef): Promise<Descriptor> {
    const key = `${run.uid}|${image.registry}/${image.repository}@${image.digest}`;
    let found = subjects.get(key);
    if (found === undefined) {
      found = headSubject(image);
      subjects.set(key, found);
      found.catch(() => subjects.delete(key));
      while (subjects.size > maxSubjectEntries) {
        const oldest = subjects.keys().next().value;
        if (oldest === undefined) break;
        subjects.delete(oldest);
      }
    }
    return found;
  }

  async function headSubject(image: ImageDigestRef): Promise<Descriptor> {
    const found = await clientFor(image.registry).headManifest(image.repository, image.digest);
    const ref = `${formatRepository(image)}@${image.digest}`;
    if (found === undefined) {
      throw new ProvenantError('permanent', 'OCI_IMAGE_NOT_FOUND', `image manifest ${ref} does not exist`, {
        context: { image: ref, hint: 'the image must be pushed before its signature or attestation' },
      });
    }
    if (found.digest !== image.digest) {
      throw new ProvenantError('permanent', 'OCI_DIGEST_MISMATCH', `registry returned ${found.digest} for ${ref}`, {
        context: { image: ref, returned: found.digest },
      });
    }
    return found;
  }

  function signatureTagKind(client: RegistryClient, repository: string): TagKind {
    return {
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      serialise: async (doc) => {
        const layers = (doc['layers'] ?? []) as Descriptor[];
        // The config lists the layer digests: new with every new layer set.
        const config = await client.pushBlob(repository, signatureImageConfig(layers), MEDIA_TYPE_OCI_CONFIG, { fresh: true });
        return new TextEncoder().encode(JSON.stringify({ ...doc, config }));
      },
    };
  }

  async function writeLegacy(image: ImageDigestRef, target: RepositoryRef, layer: Layer, suffix: 'att' | 'sig'): Promise<string> {
    const client = clientFor(target.registry);
    // Upload the layer while the tag is read; the PUT waits for it. Almost always new content (`.att`:
    // the envelope with this write's signature; `.sig`: the payload of an image signed for the first
    // time), so no HEAD first: re-uploading the rare repeat costs less than a HEAD on every write.
    const uploaded = client.pushBlob(target.repository, layer.bytes, layer.descriptor.mediaType, { fresh: true });
    uploaded.catch(() => undefined);
    const tag = digestTag(image.digest, suffix);
    const wrote = await tagWriter.update(
      client,
      target.repository,
      tag,
      signatureTagKind(client, target.repository),
      {
        apply: (doc) => {
          const merged = mergeSignatureManifest(doc, [layer.descriptor]);
          if (!merged.changed) return undefined;
          // The config descriptor is filled in by `serialise` once the final layer set is known.
          return { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: {}, layers: merged.layers } satisfies Doc;
        },
        contains: (doc) => !mergeSignatureManifest(doc, [layer.descriptor]).changed,
        ready: uploaded,
      },
    );
    await uploaded;
    const location = `${formatRepository(target)}:${tag}`;
    // debug: per (artifact, image) pair; the run's one info line is reconcile's 'run signed' (issue 10).
    log.debug({ image: `${formatRepository(image)}@${image.digest}`, location, layer: layer.descriptor.digest, wrote }, 'cosign layer stored');
    return location;
  }

  async function writeBundle(image: ImageDigestRef, subject: Descriptor, target: RepositoryRef, request: StoreRequest): Promise<string[]> {
    const client = clientFor(target.registry);
    const bundleBytes = new TextEncoder().encode(JSON.stringify(request.bundle));
    const referrer = bundleReferrerManifest({
      bundleBytes,
      subject,
      annotations: bundleAnnotations(request.bundle, request.artifact.predicateType),
    });
    const locations: string[] = [];
    const digest = sha256Digest(referrer.bytes);
    // The referrer is new content (it holds this write's bundle): no HEAD first. PUT by digest is
    // idempotent, so a retry that finds it there only repeats the PUT.
    const written = (async () => {
      await Promise.all([
        client.pushBlob(target.repository, bundleBytes, MEDIA_TYPE_BUNDLE_V03, { fresh: true }),
        client.pushBlob(target.repository, EMPTY_JSON, MEDIA_TYPE_OCI_EMPTY),
      ]);
      await client.putManifest(target.repository, digest, referrer.bytes, MEDIA_TYPE_OCI_MANIFEST);
    })();
    written.catch(() => undefined);
    locations.push(`${formatRepository(target)}@${digest}`);
    if (await client.referrersSupported(target.repository, image.digest)) {
      await written;
      return locations;
    }
    const descriptor: Descriptor = {
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      digest,
      size: referrer.bytes.length,
      artifactType: MEDIA_TYPE_BUNDLE_V03,
      annotations: bundleAnnotations(request.bundle, request.artifact.predicateType),
    };
    const tag = digestTag(image.digest);
    await tagWriter.update(
      client,
      target.repository,
      tag,
      { mediaType: MEDIA_TYPE_OCI_INDEX, serialise: async (doc) => new TextEncoder().encode(JSON.stringify(doc)) },
      {
        apply: (doc) => {
          if (doc !== undefined && doc['mediaType'] !== undefined && doc['mediaType'] !== MEDIA_TYPE_OCI_INDEX) {
            throw new ProvenantError('permanent', 'OCI_REFERRERS_TAG_CONFLICT', `tag ${tag} in ${formatRepository(target)} is not an OCI index`, {
              context: { tag, mediaType: doc['mediaType'] },
            });
          }
          const merged = mergeReferrersIndex(doc, descriptor);
          return merged.changed ? { ...merged.index } : undefined;
        },
        contains: (doc) => indexHas(doc, digest),
        // Distribution checks that an index's manifests exist: the referrer goes first.
        ready: written,
      },
    );
    await written;
    locations.push(`${formatRepository(target)}:${tag}`);
    log.debug({ image: `${formatRepository(image)}@${image.digest}`, referrer: digest }, 'sigstore bundle stored as referrer');
    return locations;
  }

  async function storeForImage(image: ImageDigestRef, request: StoreRequest): Promise<string[]> {
    const subject = await subjectDescriptor(request.run, image);
    const target = override ?? image;
    // The two layouts live under different tags: write them concurrently.
    const writes: Promise<string[]>[] = [];
    if (encoding === 'dsse' || encoding === 'both') {
      if (request.artifact.type === 'provenance') {
        const layer = attestationLayer(request.bundle, request.artifact.predicateType);
        if (layer.matchesTlog === false) {
          log.warn({ image: `${formatRepository(image)}@${image.digest}` }, 'DSSE envelope bytes do not match the Rekor entry envelopeHash; cosign tlog checks on .att will fail');
        }
        writes.push(withAttestationTimestamp(layer, request.bundle, deps.timestamper).then(async (l) => [await writeLegacy(image, target, l, 'att')]));
      } else {
        writes.push(writeLegacy(image, target, signatureLayer(request.bundle, request.payload), 'sig').then((l) => [l]));
      }
    }
    if (encoding === 'sigstore-bundle' || encoding === 'both') {
      writes.push(writeBundle(image, subject, target, request));
    }
    return (await Promise.all(writes)).flat();
  }

  return {
    name: 'oci',
    // Every tag write goes through the tag writer (lock + coalescing), so a run's artifacts may be
    // stored at once: writes to one image's tags then share one read-modify-write.
    concurrentArtifacts: true,
    async store(request: StoreRequest): Promise<StoreResult> {
      const { images, skipped } = imageSubjects(request.artifact.subjects);
      for (const s of skipped) log.debug({ subject: s.name, run: request.run.name }, 'subject is not an OCI image; not stored in OCI');
      if (request.artifact.type === 'image-signature' && images.length === 0) {
        throw new ProvenantError('permanent', 'OCI_SUBJECT_INVALID', 'image signature without an OCI image subject (registry/repo + sha256)', {
          context: { run: `${request.run.kind}/${request.run.namespace}/${request.run.name}` },
        });
      }
      const targets = request.artifact.type === 'image-signature' ? images.slice(0, 1) : images;
      const locations = (await Promise.all(targets.map((image) => storeForImage(image, request)))).flat();
      return { backend: 'oci', locations };
    },
  };
}
