/**
 * Environment for an edge's clinic endpoint (names and images for browsers) on loopback, in plain
 * HTTP as only a test or the demo may: the port, the hub key that signs the tokens and, when a
 * browser will ask, the dashboard's origin.
 */
export function clinicEndpointEnv(o: { port: number; hubPublicKeyFile: string; dashboardUrl?: string }): Record<string, string> {
  return {
    VIGIL_REID__ENABLED: 'true',
    VIGIL_REID__HOST: '127.0.0.1',
    VIGIL_REID__PORT: String(o.port),
    VIGIL_REID__TLS__ENABLED: 'false',
    ...(o.dashboardUrl ? { VIGIL_REID__ALLOWED_ORIGINS: JSON.stringify([o.dashboardUrl]) } : {}),
    VIGIL_REID__HUB_PUBLIC_KEY_FILE: o.hubPublicKeyFile,
  };
}
