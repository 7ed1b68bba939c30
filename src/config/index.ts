export * from './types.js';
export { parseConfig, defaultConfig, configDataFromDocument, defaultLocalStoragePath } from './parse.js';
