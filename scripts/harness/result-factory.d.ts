import { type DeviceAddress, type ResultMessage } from '@vigil/shared';
/**
 * A schema-valid result for synthetic load (backbone tests and benchmarks). Padded with findings
 * so the payload is about `targetBytes`, like a real result with several findings.
 */
export declare function syntheticResult(address: DeviceAddress, index: number, targetBytes?: number): ResultMessage;
