/**
 * Realistic completed TaskRuns for the benchmarks, shaped like `examples/taskrun-*.yaml`: 3–10 steps
 * (each with a pulled image ID and a script), 1–5 built images (`IMAGE_URL`/`IMAGE_DIGEST` for one,
 * `IMAGES` for more), git source results and a bundle `refSource`. Deterministic per index, so every
 * benchmark signs the same mix. Image digests are either made up (`tekton` storage) or those of
 * manifests actually pushed to the loopback registry (`oci` storage needs the image to exist).
 */
import { createHash } from 'node:crypto';

export interface RunShape {
  readonly steps: number;
  readonly images: number;
}

/** The mix: steps 3..10 and images 1..5, spread evenly but not in lock-step. */
export function shapeOf(i: number): RunShape {
  return { steps: 3 + ((i * 7) % 8), images: 1 + ((i * 3) % 5) };
}

export function hex64(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

export interface BuiltImage {
  /** `host/repo` */
  readonly name: string;
  /** `sha256:<hex>` */
  readonly digest: string;
}

export type Condition = 'done' | 'running';

export interface RunOptions {
  readonly index: number;
  readonly prefix: string;
  readonly namespace: string;
  /** Images this run reports as built (length = shapeOf(index).images). */
  readonly images: readonly BuiltImage[];
  readonly condition?: Condition;
}

const stepImages = [
  'quay.io/buildah/stable',
  'registry.access.redhat.com/ubi9/ubi-minimal',
  'gcr.io/go-containerregistry/crane',
  'docker.io/library/golang',
  'ghcr.io/ko-build/ko',
  'docker.io/aquasec/trivy',
  'docker.io/alpine/git',
  'cgr.dev/chainguard/node',
];

export function runName(prefix: string, index: number): string {
  return `${prefix}-${index.toString(36).padStart(5, '0')}`;
}

/** Images for run `index` when digests need not exist anywhere (`tekton` storage only). */
export function fakeImages(prefix: string, index: number, host = 'registry.example.com'): BuiltImage[] {
  const { images } = shapeOf(index);
  return Array.from({ length: images }, (_, k) => ({
    name: `${host}/bench/${prefix}-app-${k}`,
    digest: `sha256:${hex64(`${prefix}/${index}/${k}`)}`,
  }));
}

export function completedCondition(at: string): Record<string, unknown>[] {
  return [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: at, message: 'All Steps have completed executing' }];
}

export function taskRun(options: RunOptions): Record<string, unknown> {
  const { index, namespace, images } = options;
  const { steps } = shapeOf(index);
  const name = runName(options.prefix, index);
  const start = '2026-11-20T10:00:00Z';
  const end = '2026-11-20T10:03:00Z';
  const stepDefs = Array.from({ length: steps }, (_, s) => ({
    name: `step-${s}`,
    image: `${stepImages[s % stepImages.length] ?? 'alpine'}:v1.${s}`,
    script: `#!/bin/sh\nset -eu\necho "step ${s} of ${name}"\n./hack/build.sh --target=${s} --output=/workspace/out/${s}\n`,
  }));
  const stepStatus = stepDefs.map((d, s) => ({
    name: d.name,
    container: `step-${d.name}`,
    imageID: `docker-pullable://${stepImages[s % stepImages.length] ?? 'alpine'}@sha256:${hex64(`step/${s}`)}`,
    terminated: {
      exitCode: 0,
      reason: 'Completed',
      startedAt: start,
      finishedAt: end,
      containerID: `containerd://${hex64(`${name}/container/${s}`)}`,
    },
  }));
  const imageResults =
    images.length === 1
      ? [
          { name: 'IMAGE_URL', type: 'string', value: `${images[0]?.name ?? ''}:1.${index}` },
          { name: 'IMAGE_DIGEST', type: 'string', value: images[0]?.digest ?? '' },
        ]
      : [{ name: 'IMAGES', type: 'string', value: images.map((im) => `${im.name}@${im.digest}`).join(',') }];
  const results = [
    ...imageResults,
    { name: 'CHAINS-GIT_URL', type: 'string', value: `https://github.com/example/service-${index % 50}` },
    { name: 'CHAINS-GIT_COMMIT', type: 'string', value: hex64(`commit/${index}`).slice(0, 40) },
  ];
  const running = options.condition === 'running';
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'tekton-pipelines', 'tekton.dev/task': 'build-and-push' },
      annotations: { 'pipeline.tekton.dev/release': 'v1.6.0' },
    },
    spec: {
      params: [
        { name: 'IMAGE', value: `${images[0]?.name ?? 'x'}:1.${index}` },
        { name: 'DOCKERFILE', value: './Dockerfile' },
      ],
      serviceAccountName: 'pipeline',
      timeout: '1h0m0s',
      taskRef: {
        resolver: 'bundles',
        params: [
          { name: 'bundle', value: 'registry.example.com/tekton/catalog:v1' },
          { name: 'name', value: 'build-and-push' },
          { name: 'kind', value: 'task' },
        ],
      },
    },
    status: running
      ? {
          conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running', lastTransitionTime: start }],
          podName: `${name}-pod`,
          startTime: start,
        }
      : {
          conditions: completedCondition(end),
          podName: `${name}-pod`,
          startTime: start,
          completionTime: end,
          steps: stepStatus,
          results,
          taskSpec: {
            params: [
              { name: 'IMAGE', type: 'string' },
              { name: 'DOCKERFILE', type: 'string' },
            ],
            steps: stepDefs,
            results: results.map((r) => ({ name: r.name, type: 'string' })),
          },
          provenance: {
            refSource: {
              uri: 'registry.example.com/tekton/catalog',
              digest: { sha256: hex64('catalog') },
              entryPoint: 'build-and-push',
            },
          },
        },
  };
}

/** The status a running run gets when it completes (merge patch). */
export function completionPatch(run: Record<string, unknown>): Record<string, unknown> {
  return { status: (run as { status: unknown }).status };
}
