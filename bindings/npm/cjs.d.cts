/** Loads pagewise (once) and resolves to its exports. */
export declare function init(): Promise<typeof import('./index.js')>;
