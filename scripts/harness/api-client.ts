import { currentTotp } from '../../cloud-hub/src/auth/totp.js';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A signed-in API caller: a session cookie plus its CSRF token, or a bearer token. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly auth: { cookie?: string; csrfToken?: string; bearer?: string } = {},
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options: { csrf?: boolean; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    // A string body with its own content type (a CSV upload) goes as it is; anything else as JSON.
    const raw = typeof body === 'string' && headers['content-type'] !== undefined;
    if (body !== undefined && !raw) headers['content-type'] = 'application/json';
    if (this.auth.cookie) headers.cookie = this.auth.cookie;
    if (this.auth.bearer) headers.authorization = `Bearer ${this.auth.bearer}`;
    if (this.auth.csrfToken && options.csrf !== false && method !== 'GET') headers['x-csrf-token'] = this.auth.csrfToken;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: raw ? (body as string) : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get<T = Record<string, unknown>>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = Record<string, unknown>>(path: string, body: unknown = {}, options: { csrf?: boolean } = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body, options);
  }
}

/** Logs in with password and the current TOTP code (offset in steps avoids replay refusals). */
export async function login(
  baseUrl: string,
  username: string,
  password: string,
  totpSecret: string | null,
  stepOffset = 0,
): Promise<{ client: ApiClient; response: ApiResponse }> {
  const totp = totpSecret ? await currentTotp(totpSecret, Date.now() + stepOffset * 30_000) : undefined;
  const anonymous = new ApiClient(baseUrl);
  const response = await anonymous.post('/api/v1/auth/login', { username, password, ...(totp ? { totp } : {}) });
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  const csrfToken = (response.body as { csrfToken?: string } | null)?.csrfToken ?? undefined;
  return { client: new ApiClient(baseUrl, { cookie, ...(csrfToken ? { csrfToken } : {}) }), response };
}
