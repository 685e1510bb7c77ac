/** Guest image: build (vm-images/build.sh), content-hash cache, kernel command line. */
export { ensureImage, imagePath, imageStatus } from './ensure.js';
export type { GuestImage, ImageOptions, ImageStatus } from './ensure.js';
export { kernelCommandLine, BASE_KERNEL_PARAMS } from './cmdline.js';
export type { KernelCommandLineOptions } from './cmdline.js';
export { resolveInputs } from './inputs.js';
export type { ImageInputs, ResolvedInputs } from './inputs.js';
export type { ImageManifest } from './manifest.js';
export { defaultCacheDir, defaultWorkloadsDir } from './paths.js';
