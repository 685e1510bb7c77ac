/** Where the image recipe, the cache and the default workloads live in the repository. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (this file is orchestrator/src/image/ or orchestrator/dist/image/). */
export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url));

/** The recipe: vm-images/ (build.sh, init.sh, ...). */
export const recipeDir: string = path.join(repoRoot, 'vm-images');

/** The recipe's entry point. */
export const buildScript: string = path.join(recipeDir, 'build.sh');

/** Default image cache: vm-images/cache/ (built images under HASH/, kernel .debs under debs/). */
export const defaultCacheDir: string = path.join(recipeDir, 'cache');

/** Default workloads copied into the guest when the caller does not say: workloads/bin/. */
export const defaultWorkloadsDir: string = path.join(repoRoot, 'workloads', 'bin');
