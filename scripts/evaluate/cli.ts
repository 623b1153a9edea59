// `npm run evaluate -- PHANTOM_DIR [--model models/vigil-demo] [--alerts]`
// --alerts: also run the follow-up engine on the model's findings and score its alerts against truth
// (needs a cohort with several visits per patient).
import { parseArgs } from 'node:util';
import { evaluateAlerts } from './alert-evaluation.js';
import { evaluate } from './evaluate.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: 'models/vigil-demo' }, alerts: { type: 'boolean', default: false } },
});
const dir = positionals[0];
if (!dir) {
  process.stderr.write('usage: npm run evaluate -- PHANTOM_DIR [--model DIR] [--alerts]\n');
  process.exit(2);
}
const result = await evaluate(dir, values.model ?? 'models/vigil-demo', (done, total) =>
  process.stderr.write(`\revaluating ${done}/${total}`),
);
process.stderr.write('\n');
process.stdout.write(`${JSON.stringify(result)}\n`);
if (values.alerts) {
  const alerts = await evaluateAlerts(dir, values.model ?? 'models/vigil-demo', (done, total) =>
    process.stderr.write(`\rfollow-up alerts: analysing ${done}/${total}`),
  );
  process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify({ alerts })}\n`);
}
