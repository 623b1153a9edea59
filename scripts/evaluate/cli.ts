// `npm run evaluate -- PHANTOM_DIR [--model models/vigil-demo]`
import { parseArgs } from 'node:util';
import { evaluate } from './evaluate.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: 'models/vigil-demo' } },
});
const dir = positionals[0];
if (!dir) {
  process.stderr.write('usage: npm run evaluate -- PHANTOM_DIR [--model DIR]\n');
  process.exit(2);
}
const result = await evaluate(dir, values.model ?? 'models/vigil-demo', (done, total) =>
  process.stderr.write(`\revaluating ${done}/${total}`),
);
process.stderr.write('\n');
process.stdout.write(`${JSON.stringify(result)}\n`);
