import { limits } from '../limits.js';

export const TRACE_LINK_LIMIT = 'TRACE_LINK_LIMIT';

export interface TraceLinkLimits {
  /** Materials followed per verified statement. */
  readonly maxFanOut: number;
  /** Nodes in the whole graph. */
  readonly maxNodes: number;
}

/**
 * Whether `trace` may follow the `index`-th material of a statement to a node (`known`: already in
 * the graph, so it costs nothing). Past a limit the node is marked `truncated` with reason
 * `TRACE_LINK_LIMIT` by the caller, besides `--max-depth`.
 */
export function mayFollow(index: number, graphSize: number, known: boolean, max: TraceLinkLimits = limits.trace): boolean {
  if (index >= max.maxFanOut) return false;
  return known || graphSize < max.maxNodes;
}
