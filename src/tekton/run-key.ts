/** What the queue carries for a run: enough to re-read it, nothing more (STYLE.md #3). */
export type RunKind = 'TaskRun' | 'PipelineRun';

export interface RunKey {
  readonly kind: RunKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** `taskrun/ns/name` – for logs and error contexts. */
export function formatRunKey(key: Pick<RunKey, 'kind' | 'namespace' | 'name'>): string {
  return `${key.kind.toLowerCase()}/${key.namespace}/${key.name}`;
}
