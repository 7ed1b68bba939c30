// The fake API server lives in src/ because `provenant demo` uses it too; tests import it from here.
export * from '../../src/testing/fake-kube-server.js';
