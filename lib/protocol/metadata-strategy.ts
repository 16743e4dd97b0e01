/** How `<prefix>/set-my-connection-metadata` (and `setMetadata`) combines new metadata with the stored one. */
export type MetadataStrategy = 'replace' | 'merge' | 'deepMerge';

export function isMetadataStrategy(value: unknown): value is MetadataStrategy {
  return value === 'replace' || value === 'merge' || value === 'deepMerge';
}
