// `npm run release [-- --out DIR] [--no-build]`: see pack.ts.
import { join } from 'node:path';
import { parseCli } from '../cli-args.js';
import { buildRelease } from './pack.js';
import { ROOT } from './workspace-imports.js';

const { values } = parseCli(
  `usage: npm run release [-- --out DIR (release/)] [--no-build]
Stages the compiled hub and edge agent as installable tarballs, an install manifest and native prebuilds.`,
  { options: { out: { type: 'string' }, 'no-build': { type: 'boolean', default: false } } },
);
const outDir = values.out ?? join(ROOT, 'release');
const release = await buildRelease({ outDir, build: !values['no-build'], log: (line) => console.log(line) });
console.log(`release in ${release.dir}:\n  ${release.hub}\n  ${release.edge}\n  ${release.prebuilds}/`);
console.log(
  'install (empty directory): npm install --omit=dev --allow-scripts=argon2,better-sqlite3 ' +
    `${release.hub} ${release.edge}  (npm_config_better_sqlite3_local_prebuilds=${release.prebuilds} for an offline install)`,
);
