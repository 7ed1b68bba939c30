// Locates the independent clients (cosign, oras, rekor-cli, gitsign) fetched by scripts/install-debian-tools.sh.
// A missing tool fails the test that needs it with a message naming the install script: these tests prove
// interoperability with software nobody here wrote, so they never skip silently.
import { existsSync } from 'node:fs';
import path from 'node:path';

export type DebianTool = 'cosign' | 'oras' | 'rekor-cli' | 'gitsign';

export function debianToolsBinDir(): string {
  const dir = process.env.PROVENANT_TOOLS_DIR ?? '/var/cache/provenant/debian-tools';
  return path.join(dir, 'root', 'usr', 'bin');
}

export function debianTool(name: DebianTool): string {
  const file = path.join(debianToolsBinDir(), name);
  if (!existsSync(file)) {
    throw new Error(`${name} not found at ${file}: run scripts/install-debian-tools.sh (part of scripts/install-system-deps.sh)`);
  }
  return file;
}
