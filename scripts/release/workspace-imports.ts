// What each workspace's shipped sources import, for the declared-dependencies check and the release.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
export const WORKSPACES = ['shared', 'edge-agent', 'cloud-hub'] as const;
export type Workspace = (typeof WORKSPACES)[number];

export interface WorkspaceManifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export function workspaceManifest(workspace: string): WorkspaceManifest {
  return JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8')) as WorkspaceManifest;
}

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, keep);
    return keep(name) ? [path] : [];
  });
}

// Static imports and re-exports (`from '…'`), side-effect imports, dynamic `import('…')` and `require('…')`.
const SPECIFIER = /(?:\bfrom\s*|^\s*import\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([@\w][\w@./:-]*|\.{1,2}\/[\w@./-]*)['"]/gm;

function specifiersOf(path: string): string[] {
  const source = readFileSync(path, 'utf8');
  return [...source.matchAll(SPECIFIER)].map((m) => m[1] as string);
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; `node:fs` → `fs`. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  const bare = specifier.replace(/^node:/, '');
  const parts = bare.split('/');
  return bare.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Package name → the files importing it, over `WORKSPACE/src/**∕*.ts` (what a release compiles).
 * With `shimsOnly`: file → every specifier of each checkout-only `.mjs` worker shim instead.
 */
export function importedPackages(workspace: string, options: { shimsOnly?: boolean } = {}): Map<string, string[]> {
  const src = join(ROOT, workspace, 'src');
  const out = new Map<string, string[]>();
  if (options.shimsOnly) {
    for (const file of files(src, (n) => n.endsWith('.mjs'))) out.set(file, specifiersOf(file));
    return out;
  }
  for (const file of files(src, (n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))) {
    for (const specifier of specifiersOf(file)) {
      const name = packageOf(specifier);
      if (!name) continue;
      out.set(name, [...(out.get(name) ?? []), file.slice(ROOT.length + 1)]);
    }
  }
  return out;
}
