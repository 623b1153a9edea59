import { generate, generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

/** RFC 6238 defaults every authenticator app supports: SHA-1, 6 digits, 30 s steps. */
const PERIOD_S = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(issuer: string, username: string, secret: string): string {
  return generateURI({ issuer, label: username, secret });
}

/** The otpauth:// URI as an SVG QR code, for enrolment on the dashboard. */
export function totpQrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/**
 * Verifies a code, allowing one step of clock skew either way (RFC 6238 §5.2), and returns the
 * time step it belongs to so the caller can refuse a replay; null when the code is wrong.
 */
export async function verifyTotp(secret: string, code: string, nowMs = Date.now()): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const result = await verify({ secret, token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: PERIOD_S }).catch(
    () => ({ valid: false }) as const,
  );
  return result.valid ? (result as { timeStep: number }).timeStep : null;
}

/** The current code, for tests, the demo and the CLI's enrolment check. */
export function currentTotp(secret: string, nowMs = Date.now()): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000) });
}
