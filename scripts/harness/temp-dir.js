import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export function makeTempDir(prefix) {
  const path = mkdtempSync(join(tmpdir(), `vigil-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
//# sourceMappingURL=temp-dir.js.map
