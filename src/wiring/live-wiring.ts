/**
 * The wiring in use, swapped as a whole on a ConfigMap change: build the new wiring, swap one
 * reference, then close the old clients. A configuration that fails to build is rejected and the
 * last good one stays. Calls of `apply` come one at a time from the config watcher (latest wins).
 */
import { parseConfig, type Config } from '../config/index.js';
import { errorMessage, isProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import type { WiringFactory } from './create-wiring.js';
import type { ClosableWiring } from './types.js';

export type ConfigMapData = Readonly<Record<string, string>>;

export interface LiveWiringDeps {
  readonly build: WiringFactory;
  readonly logger: Logger;
  /** Keys merged under the ConfigMap's data (the embedded default uses it); the ConfigMap wins. */
  readonly configDefaults?: ConfigMapData | undefined;
  /** Told whether the configuration last acted on was usable (the `config valid` metric). */
  readonly onValidity?: (valid: boolean) => void;
  /** A rejected update, with a `{code, message}` summary for a Kubernetes Event. */
  readonly onRejected?: (summary: { readonly code: string; readonly message: string }) => Promise<void>;
  /** After a swap (the controller relists runs left unsigned under the old configuration). */
  readonly onApplied?: () => Promise<void>;
}

export interface LiveWiring {
  current(): ClosableWiring;
  /** Builds and installs a configuration from ConfigMap data; resolves once swapped or rejected. */
  apply(data: ConfigMapData): Promise<void>;
  close(): Promise<void>;
}

/** Parses ConfigMap data over the defaults; warnings are logged (config/ returns them as data). */
export function configFromData(data: ConfigMapData | undefined, deps: Pick<LiveWiringDeps, 'configDefaults' | 'logger'>): Config {
  const { config, warnings } = parseConfig({ ...deps.configDefaults, ...data });
  for (const w of warnings) deps.logger.warn({ key: w.key, value: w.value }, `chains-config: ${w.message}`);
  return config;
}

/** Rejects with a `config` error when the initial configuration is unusable. */
export async function createLiveWiring(initialData: ConfigMapData | undefined, deps: LiveWiringDeps): Promise<LiveWiring> {
  const { logger } = deps;
  let current = await deps.build(configFromData(initialData, deps));
  deps.onValidity?.(true);
  return {
    current: () => current,
    async apply(data) {
      let next: ClosableWiring;
      try {
        next = await deps.build(configFromData(data, deps));
      } catch (err) {
        deps.onValidity?.(false);
        const perr = isProvenantError(err) ? err : undefined;
        logger.error(
          { err: { code: perr?.code, message: errorMessage(err), problems: perr?.context['problems'] } },
          'chains-config update rejected; keeping the last good configuration',
        );
        await deps.onRejected?.({ code: perr?.code ?? 'CONFIG_INVALID', message: errorMessage(err) });
        return;
      }
      const old = current;
      current = next;
      deps.onValidity?.(true);
      logger.info('chains-config reloaded');
      await old.close().catch(() => undefined);
      await deps.onApplied?.();
    },
    close: () => current.close(),
  };
}
