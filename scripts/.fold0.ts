import { froc, frocRuleFor, frocSummary } from './evaluate/froc.js';
import { inferCohort } from './evaluate/infer-cohort.js';

for (const [dir, model] of process.argv.slice(2).map((a) => a.split('@'))) {
  const cohort = await inferCohort(dir as string, model as string, { cache: false });
  const r = froc(cohort, { rule: frocRuleFor(cohort) });
  console.log(dir, model, frocSummary(r));
}
