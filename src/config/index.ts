export * from './types.js';
export { parseConfig, defaultConfig, configDataFromDocument, defaultLocalStoragePath } from './parse.js';
export { usesKeyless, keylessVerifiabilityProblems } from './keyless.js';
export { applyTransparencyFlags, type TransparencyFlags } from './flags.js';
export { parseDocdbUrl, redactUrlPassword, signedDocumentFields, docdbSupportedSchemes, type DocdbCollectionRef, type MongoCollectionRef, type DynamoCollectionRef, type FirestoreCollectionRef } from './docdb-url.js';
