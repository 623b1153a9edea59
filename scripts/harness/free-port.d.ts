/** A port the kernel just handed out on loopback; servers under test bind it right after. */
export declare function freePort(): Promise<number>;
