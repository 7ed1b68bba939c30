/**
 * `filter.managed-by` (Tekton Chains #1882): runs whose `spec.managedBy` names another controller are
 * not signed. Unset, empty or whitespace-only values and `tekton.dev/pipeline` are always accepted;
 * `filter.managed-by` lists extra accepted values. Pure.
 */
export const builtInManager = 'tekton.dev/pipeline';

export function managedByOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const v = (obj as { spec?: { managedBy?: unknown } }).spec?.managedBy;
  return typeof v === 'string' ? v : undefined;
}

export function isManagedByAccepted(obj: unknown, extra: readonly string[]): boolean {
  const value = managedByOf(obj)?.trim();
  if (value === undefined || value === '' || value === builtInManager) return true;
  return extra.includes(value);
}
