import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProvenantError, errorMessage } from '../errors.js';
import { credentialsFromDockerConfig, noCredentials, type DockerCredentials } from '../storage/oci/index.js';

/**
 * Registry credentials: `--docker-config FILE` (a file or a directory holding config.json), else
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` when present, else none.
 */
export async function loadDockerCredentials(file: string | undefined, env: NodeJS.ProcessEnv): Promise<DockerCredentials> {
  const candidates =
    file !== undefined
      ? [file, path.join(file, 'config.json')]
      : [path.join(env['DOCKER_CONFIG'] ?? path.join(env['HOME'] ?? os.homedir(), '.docker'), 'config.json')];
  for (const candidate of candidates) {
    let text: string;
    try {
      // A small file read once per CLI call: sync spares the thread pool's start (measured, bench/cli.ts).
      text = readFileSync(candidate, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') continue;
      throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read docker config ${candidate}: ${errorMessage(err)}`, { cause: err });
    }
    return credentialsFromDockerConfig(text, candidate);
  }
  if (file !== undefined) throw new ProvenantError('input', 'INPUT_UNREADABLE', `docker config ${file} does not exist`);
  return noCredentials;
}
