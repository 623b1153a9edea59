/**
 * One delivery attempt's outcome. `transient`: the destination could not be reached or was busy (try
 * again, however long it takes); `refused`: it answered and said no (a wrong AE title, a SOP class
 * it does not take, an HTTP 4xx), which repeats until someone fixes the configuration.
 */
export type SendOutcome = { ok: true } | { ok: false; kind: 'transient' | 'refused'; code: string; message: string };
