import { readFileSync } from 'node:fs';
import { Kind, type Static, type TLiteral, type TObject, type TSchema, type TUnion } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { VigilError } from './errors.js';

export const ENV_PREFIX = 'VIGIL_';

/** `outbox.maxBytes` → `VIGIL_OUTBOX__MAX_BYTES`: "__" separates levels, "_" splits camelCase words. */
export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

interface Leaf {
  path: string[];
  schema: TSchema;
}

function leavesOf(schema: TSchema, path: string[] = []): Leaf[] {
  if (schema[Kind] === 'Object') {
    return Object.entries((schema as TObject).properties).flatMap(([key, child]) => leavesOf(child, [...path, key]));
  }
  return [{ path, schema }];
}

/** Every environment variable a schema understands, for docs and `--help` output. */
export function configEnvNames(schema: TObject): string[] {
  return leavesOf(schema).map((leaf) => envNameFor(leaf.path));
}

function parseEnvValue(raw: string, schema: TSchema, name: string): unknown {
  const kind = schema[Kind];
  if (kind === 'Union') {
    // The first member the text parses into: `4` → 4 for Union(Literal(4), Literal(5)).
    for (const member of (schema as TUnion).anyOf) {
      const candidate = member[Kind] === 'Literal' ? parseLiteral(raw, member as TLiteral) : safeParse(raw, member, name);
      if (candidate !== undefined && Value.Check(member, candidate)) return candidate;
    }
    return raw;
  }
  if (kind === 'Number' || kind === 'Integer') {
    const n = Number(raw);
    if (raw.trim() === '' || Number.isNaN(n)) throw new VigilError('VIGIL_CONFIG_INVALID', `${name}="${raw}" is not a number`);
    return n;
  }
  if (kind === 'Boolean') {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new VigilError('VIGIL_CONFIG_INVALID', `${name}="${raw}" is not a boolean (true/false)`);
  }
  if (kind === 'Array' || kind === 'Record') {
    try {
      return JSON.parse(raw);
    } catch {
      throw new VigilError('VIGIL_CONFIG_INVALID', `${name} must be JSON (for example ["a","b"])`);
    }
  }
  return raw;
}

function parseLiteral(raw: string, literal: TLiteral): unknown {
  return typeof literal.const === 'number' ? Number(raw) : typeof literal.const === 'boolean' ? raw === 'true' : raw;
}

function safeParse(raw: string, schema: TSchema, name: string): unknown {
  try {
    return parseEnvValue(raw, schema, name);
  } catch {
    return undefined;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function jsonPointerToKey(pointer: string): string {
  return pointer.replace(/^\//, '').replaceAll('/', '.') || '(root)';
}

export interface LoadConfigOptions {
  /** YAML file; omitted means "embedded defaults plus environment". */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values applied before the file (e.g. a demo's generated ports). */
  base?: Record<string, unknown>;
}

/**
 * Loads one process's configuration: defaults from the schema, then the YAML file, then
 * `VIGIL_…` environment overrides; validated once (the error names the bad key) and frozen.
 */
export function loadConfig<T extends TObject>(schema: T, options: LoadConfigOptions = {}): Readonly<Static<T>> {
  const env = options.env ?? process.env;
  let fromFile: unknown = {};
  if (options.file) {
    try {
      fromFile = parseYaml(readFileSync(options.file, 'utf8')) ?? {};
    } catch (error) {
      throw new VigilError('VIGIL_CONFIG_UNREADABLE', `cannot read config ${options.file}: ${(error as Error).message}`);
    }
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new VigilError('VIGIL_CONFIG_INVALID', `config ${options.file} must be a YAML mapping at the top level`);
    }
  }
  const merged = Value.Clone({ ...(options.base ?? {}) }) as Record<string, unknown>;
  mergeInto(merged, fromFile as Record<string, unknown>);
  for (const leaf of leavesOf(schema)) {
    const name = envNameFor(leaf.path);
    const raw = env[name];
    if (raw !== undefined) setPath(merged, leaf.path, parseEnvValue(raw, leaf.schema, name));
  }
  const known = new Set(configEnvNames(schema));
  const unknownEnv = Object.keys(env).filter(
    (name) => name.startsWith(ENV_PREFIX) && !RESERVED_ENV.has(name) && !known.has(name),
  );
  if (unknownEnv.length > 0) {
    throw new VigilError('VIGIL_CONFIG_INVALID', `unknown configuration variable ${unknownEnv[0]}`);
  }
  const withDefaults = Value.Default(schema, merged);
  const first = Value.Errors(schema, withDefaults).First();
  if (first) {
    const key = jsonPointerToKey(first.path);
    const source = env[envNameFor(key.split('.'))] !== undefined ? ` (from ${envNameFor(key.split('.'))})` : '';
    throw new VigilError('VIGIL_CONFIG_INVALID', `config key ${key}${source}: ${first.message}`, {
      details: { key },
    });
  }
  return deepFreeze(withDefaults as Static<T>);
}

/** Variables that configure the tooling rather than a process's config keys. */
const RESERVED_ENV = new Set(['VIGIL_CONFIG', 'VIGIL_LOG_LEVEL']);

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof existing === 'object' &&
      existing !== null &&
      !Array.isArray(existing)
    ) {
      mergeInto(existing as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      target[key] = value;
    }
  }
}

/**
 * A secret given either inline or, preferably, as a file (systemd credentials, Kubernetes secrets).
 * The file wins; its trailing newline is dropped. `key` names the config key in errors.
 */
export function resolveSecret(inline: string, file: string, key: string): string {
  if (!file) return inline;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new VigilError('VIGIL_CONFIG_INVALID', `config key ${key}: ${(error as Error).message}`);
  }
}
