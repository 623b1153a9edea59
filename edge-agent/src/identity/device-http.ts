/**
 * How the edge calls the hub's device routes (package downloads, training labels, the
 * re-identification audit): with its certificate (mTLS) once enrolled, else with its password.
 */
export interface DeviceHttp {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

/** HTTP Basic with the device id and password (the same credentials as MQTT). */
export function passwordHttp(username: string, password: string): DeviceHttp {
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  return {
    fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization } }),
  };
}
