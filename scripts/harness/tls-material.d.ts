export interface TlsMaterial {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}
/** A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
export declare function makeTlsMaterial(dir: string, name?: string): TlsMaterial;
/** A client certificate whose CN is the device id, issued by the given CA. */
export declare function makeClientCert(
  dir: string,
  ca: TlsMaterial,
  cn: string,
): {
  cert: string;
  key: string;
};
