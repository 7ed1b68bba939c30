// The fake API server is test support (also used by the dev-only demo/ and bench/); never in src/.
export * from './fake-kube-server.js';
