// A minimal finished v1 TaskRun that built one image (IMAGE_URL + IMAGE_DIGEST results): the fixture
// CLI tests, lazy-loading checks and `bench/cli.ts` all feed to `provenant provenance|sign`.
export interface ImageTaskRunOptions {
  /** IMAGE_URL result. */
  readonly image: string;
  /** IMAGE_DIGEST result, `sha256:<hex>`. */
  readonly digest: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  /** `spec.serviceAccountName`, when the test needs one. */
  readonly serviceAccountName?: string;
  readonly times?: { readonly start: string; readonly completion: string };
}

export function imageTaskRun(o: ImageTaskRunOptions): Record<string, unknown> {
  const times = o.times ?? { start: '2024-01-01T00:00:00Z', completion: '2024-01-01T00:01:00Z' };
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: o.name ?? 'build', namespace: o.namespace ?? 'ci', uid: o.uid ?? '11111111-2222-3333-4444-555555555555' },
    spec: { taskRef: { name: 'build' }, ...(o.serviceAccountName === undefined ? {} : { serviceAccountName: o.serviceAccountName }) },
    status: {
      startTime: times.start,
      completionTime: times.completion,
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', type: 'string', value: o.image },
        { name: 'IMAGE_DIGEST', type: 'string', value: o.digest },
      ],
      taskSpec: { steps: [{ name: 'build', image: 'busybox' }] },
    },
  };
}
