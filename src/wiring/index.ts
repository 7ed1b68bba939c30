export type { Wiring, ClosableWiring, StorageScope } from './types.js';
export { createWiring, createWiringFactory, type WiringDeps, type WiringFactory } from './create-wiring.js';
export { serviceAccountCredentials, createTtlCache, defaultServiceAccount, type PullSecretSource } from './registry-credentials.js';
export { createLiveWiring, configFromData, type LiveWiring, type LiveWiringDeps, type ConfigMapData } from './live-wiring.js';
