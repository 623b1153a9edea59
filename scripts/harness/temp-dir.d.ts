export declare function makeTempDir(prefix: string): {
  path: string;
  remove: () => void;
};
