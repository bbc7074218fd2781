// The benchmarks time the built package (dist/, what users load; `npm run bench` builds it first), not
// the TypeScript sources through tsx's loader, whose module wrappers add per-call overhead users never pay.
import type * as Fuseloss from '../src/index';

export const fl: typeof Fuseloss = require('../dist/cjs/index.js');
