// `npm run release [-- --out DIR] [--no-build]`: see pack.ts.
import { join } from 'node:path';
import { buildRelease } from './pack.js';
import { ROOT } from './workspace-imports.js';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outDir = (outAt >= 0 ? args[outAt + 1] : undefined) ?? join(ROOT, 'release');
const release = await buildRelease({ outDir, build: !args.includes('--no-build'), log: (line) => console.log(line) });
console.log(`release in ${release.dir}:\n  ${release.hub}\n  ${release.edge}\n  ${release.prebuilds}/`);
console.log(
  'install (empty directory): npm install --omit=dev --allow-scripts=argon2,better-sqlite3 ' +
    `${release.hub} ${release.edge}  (npm_config_better_sqlite3_local_prebuilds=${release.prebuilds} for an offline install)`,
);
