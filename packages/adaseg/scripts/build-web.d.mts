/** Builds the annotation page into `outdir` (default dist/web of the package) and returns that folder. */
export declare function buildWeb(outdir?: string): Promise<string>;
