/** The part of dcmjs (0.50) the edge uses directly: its data dictionary and Part 10 encoder. */
declare module 'dcmjs' {
  interface DicomDictInstance {
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        nameMap: Record<string, { tag: string; vr: string; vm: string; name: string } | undefined>;
        denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
      };
      DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance;
    };
  };
  export default dcmjs;
}
