/** A named artifact with its digest set: a subject (name) or a material (uri). */
export interface DigestedArtifact {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

/**
 * Chains' `artifact.AppendSubjects/AppendMaterials`: two entries are the same artifact when the
 * names match and they share at least one algorithm:hex pair; the digest sets are then merged
 * into the first. Order of first appearance is kept.
 */
export function appendArtifacts(original: readonly DigestedArtifact[], ...items: readonly DigestedArtifact[]): DigestedArtifact[] {
  const out = original.map((a) => ({ name: a.name, digest: { ...a.digest } }));
  for (const item of items) {
    const same = out.find((a) => a.name === item.name && Object.entries(a.digest).some(([alg, hex]) => item.digest[alg] === hex));
    if (same) Object.assign(same.digest, item.digest);
    else out.push({ name: item.name, digest: { ...item.digest } });
  }
  return out;
}
