export * from './frame';
export * from './error-codes';
