// `node --import ./record-loads.mjs …`: records the URL of every module the process resolves (ESM
// imports and CommonJS requires alike, through Node 22's in-thread module hooks) and writes them, one
// a line, to $RECORD_LOADS_FILE at exit. Used to check that a CLI command loads only what it uses.
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const out = process.env.RECORD_LOADS_FILE;
const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    seen.add(result.url);
    return result;
  },
});
process.on('exit', () => {
  if (out) writeFileSync(out, [...seen].join('\n') + '\n');
});
