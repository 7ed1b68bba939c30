import type { FormatName } from '../config/index.js';
import { slsaV02Format } from './slsa-v02.js';
import { slsaV2alpha3Format } from './slsa-v2alpha3.js';
import { slsaV2alpha4Format } from './slsa-v2alpha4.js';
import type { ProvenanceFormat } from './statement.js';

/** One entry per config format name; a name without an implementation fails to compile. */
export const formats = {
  'in-toto': slsaV02Format,
  // Chains: slsa/v1 is an alias of in-toto.
  'slsa/v1': slsaV02Format,
  'slsa/v2alpha3': slsaV2alpha3Format,
  'slsa/v2alpha4': slsaV2alpha4Format,
} satisfies Record<FormatName, ProvenanceFormat>;
