import type { ReidToken } from '../../src/api/api-types.js';
import { api } from './api.js';
import { el } from './dom.js';

/**
 * Names for the pseudonyms on the page, resolved inside the clinic: the hub issues a short-lived
 * token and lists the edges of the user's clinics; the browser asks those edges directly, so names
 * appear on screen while the hub never receives them. An edge the browser cannot reach (outside the
 * clinic network) or that refuses simply leaves the pseudonym.
 */
interface Identity {
  patientName: string;
  patientId: string;
  birthDate: string;
}

let grant: ReidToken | undefined;
const known = new Map<string, Identity | null>();

/**
 * The hub's current grant: a short-lived token per edge of the user's clinics, and where each edge
 * is. Names and images are asked of the edges with it. Undefined when the hub gives none.
 */
export async function clinicGrant(): Promise<ReidToken | undefined> {
  if (!grant || Date.parse(grant.expiresAt) - Date.now() < 20_000) {
    try {
      grant = await api<ReidToken>('POST', '/reid/token', {});
    } catch {
      return undefined;
    }
  }
  return grant;
}

async function ask(url: string, bearer: string, keys: string[]): Promise<({ patientKey: string } & Identity)[]> {
  try {
    const response = await fetch(`${url}/reid/v1/resolve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patientKeys: keys }),
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) return [];
    return ((await response.json()) as { patients: ({ patientKey: string } & Identity)[] }).patients;
  } catch {
    return [];
  }
}

/** "LINDGREN, Marta · PH9191-00000 · born 1954-11-24" from DICOM values. */
export function identityLabel(p: Identity): string {
  const [family = '', given = ''] = p.patientName.split('^');
  const name = given ? `${family}, ${given}` : family;
  const born = /^\d{8}$/.test(p.birthDate)
    ? ` · born ${p.birthDate.slice(0, 4)}-${p.birthDate.slice(4, 6)}-${p.birthDate.slice(6)}`
    : '';
  return `${name} · ${p.patientId}${born}`;
}

/** Adds the real name next to every element with `data-patient-key` the clinic's edges can resolve. */
export async function showNames(root: HTMLElement): Promise<void> {
  const targets = [...root.querySelectorAll<HTMLElement>('[data-patient-key]')];
  const keys = [...new Set(targets.map((t) => t.dataset.patientKey as string))].filter((k) => !known.has(k));
  if (keys.length > 0) {
    const g = await clinicGrant();
    if (g && g.edges.length > 0) {
      const answers = await Promise.all(g.edges.map((e) => ask(e.url, e.token, keys.slice(0, 200))));
      for (const p of answers.flat()) known.set(p.patientKey, p);
    }
    for (const k of keys) if (!known.has(k)) known.set(k, null);
  }
  for (const t of targets) {
    const identity = known.get(t.dataset.patientKey as string);
    if (!identity || t.nextElementSibling?.classList.contains('real-name')) continue;
    t.after(
      el('span', { class: 'real-name', title: 'resolved by the clinic’s edge; never sent to the hub' }, identityLabel(identity)),
    );
  }
}

/** Forgets names and the token (sign-out). */
export function forgetNames(): void {
  grant = undefined;
  known.clear();
}
