/** A seeded PRNG (mulberry32) so a failing random fault schedule can be replayed with FAULTS_SEED. */
export function seededRandom(seedInput = process.env['FAULTS_SEED']): { random: () => number; seed: number } {
  const seed = seedInput !== undefined && seedInput !== '' ? Number(seedInput) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
  let a = seed;
  const random = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { random, seed };
}
