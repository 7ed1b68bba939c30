// The YAML parser as a module of its own, so `readDocument` can load it on demand (a JSON input, the
// usual case for scripts, never loads it) and a bundler maps the CommonJS package's named export.
export { parse as parseYaml } from 'yaml';
