/**
 * The guest image cache: ensureImage() returns the image for the current inputs, building it
 * with vm-images/build.sh when the content hash of the inputs has no cached image yet.
 * Builds go to a temp dir inside the cache and are renamed to CACHE/HASH atomically, under a
 * per-hash lock file, so concurrent builders never see or produce a half-built image.
 */
import { access, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { resolveInputs, type ResolvedInputs } from './inputs.js';
import { withLock } from './lock.js';
import { readManifest, type ImageManifest } from './manifest.js';
import { buildScript, defaultCacheDir, defaultWorkloadsDir } from './paths.js';

export interface GuestImage {
  /** CACHE/HASH */
  dir: string;
  /**
   * For QEMU -kernel: the uncompressed vmlinux when the kernel has a PVH entry (QEMU boots it
   * directly, ~3 s faster under TCG than letting the bzImage decompress itself), else vmlinuz.
   */
  kernel: string;
  /** The Debian bzImage (vmlinuz), always present. */
  kernelCompressed: string;
  /** initrd.img, for QEMU -initrd */
  initrd: string;
  /** Per-image SSH key for root (OpenSSH ed25519, no passphrase). */
  privateKeyPath: string;
  publicKeyPath: string;
  /** The guest's SSH host public key (OpenSSH line), to pin the host key. */
  hostPublicKeyPath: string;
  manifest: ImageManifest;
  /** sha256 of the inputs (also the cache directory name). */
  hash: string;
}

export interface ImageOptions {
  /**
   * Directory whose files go to /opt/fluidlab/bin in the guest. undefined: workloads/bin if
   * it exists; null: no workloads.
   */
  workloadsDir?: string | null;
  /** Image cache (default vm-images/cache). */
  cacheDir?: string;
  /** Where kernel .debs are kept (default CACHE/debs). */
  debCacheDir?: string;
  /** Use this kernel .deb instead of what linux-image-amd64 depends on. */
  kernelDeb?: string;
  /** Build output, one line at a time. */
  log?: (line: string) => void;
  /** Abort a build in progress (kills build.sh). */
  signal?: AbortSignal;
  /** How long to wait for another process building the same image (default 20 min). */
  lockTimeoutMs?: number;
}

export interface ImageStatus {
  /** True when an image for the current inputs is built. */
  ok: boolean;
  hash?: string;
  dir?: string;
  kernel?: string;
  message: string;
  /** What to run when ok is false. */
  fix?: string;
}

const IMAGE_FILES = ['vmlinuz', 'initrd.img', 'id_ed25519', 'id_ed25519.pub', 'host_key.pub', 'manifest.json'];

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

async function resolveWorkloadsDir(w: string | null | undefined): Promise<string | undefined> {
  if (w === null) return undefined;
  if (w !== undefined) return path.resolve(w);
  return (await exists(defaultWorkloadsDir)) ? defaultWorkloadsDir : undefined;
}

async function resolve(opts: ImageOptions): Promise<{ cacheDir: string; debCacheDir: string; resolved: ResolvedInputs }> {
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir);
  const debCacheDir = path.resolve(opts.debCacheDir ?? path.join(cacheDir, 'debs'));
  const workloadsDir = await resolveWorkloadsDir(opts.workloadsDir);
  const resolved = await resolveInputs({
    debCacheDir,
    ...(workloadsDir ? { workloadsDir } : {}),
    ...(opts.kernelDeb ? { kernelDeb: opts.kernelDeb } : {}),
  });
  return { cacheDir, debCacheDir, resolved };
}

/** The image in dir if it is complete, else undefined. */
async function loadImage(dir: string, hash: string): Promise<GuestImage | undefined> {
  for (const f of IMAGE_FILES) if (!(await exists(path.join(dir, f)))) return undefined;
  const manifest = await readManifest(path.join(dir, 'manifest.json'));
  if (!(await exists(path.join(dir, manifest.bootKernel)))) return undefined;
  return {
    dir,
    kernel: path.join(dir, manifest.bootKernel),
    kernelCompressed: path.join(dir, 'vmlinuz'),
    initrd: path.join(dir, 'initrd.img'),
    privateKeyPath: path.join(dir, 'id_ed25519'),
    publicKeyPath: path.join(dir, 'id_ed25519.pub'),
    hostPublicKeyPath: path.join(dir, 'host_key.pub'),
    manifest,
    hash,
  };
}

async function runBuild(out: string, resolved: ResolvedInputs, debCacheDir: string, opts: ImageOptions): Promise<void> {
  const args = [buildScript, '--out', out, '--deb-cache', debCacheDir, '--inputs-hash', resolved.hash];
  if (resolved.kernel.deb) args.push('--kernel-deb', resolved.kernel.deb);
  else args.push('--kernel-package', `${resolved.kernel.name}=${resolved.kernel.version}`);
  if (resolved.workloadsDir) args.push('--workloads', resolved.workloadsDir);

  const tail: string[] = [];
  const child = execa('bash', args, {
    all: true,
    reject: false,
    stdin: 'ignore',
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  for await (const line of child.iterable({ from: 'all' })) {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    opts.log?.(line);
  }
  const r = await child;
  if (r.isCanceled) throw new Error('image build aborted');
  if (r.exitCode !== 0) {
    throw new Error(`vm-images/build.sh failed (exit ${r.exitCode ?? r.signal}):\n${tail.join('\n')}\n` +
      'fix the cause above and run `orchestrate image build` again');
  }
}

/** Returns the image for the current inputs, building it (once, even concurrently) if needed. */
export async function ensureImage(opts: ImageOptions = {}): Promise<GuestImage> {
  const { cacheDir, debCacheDir, resolved } = await resolve(opts);
  const { hash } = resolved;
  const finalDir = path.join(cacheDir, hash);
  const cached = await loadImage(finalDir, hash).catch(() => undefined);
  if (cached) return cached;

  await mkdir(cacheDir, { recursive: true });
  const tmpPrefix = `.build-${hash.slice(0, 16)}-`;
  return withLock(path.join(cacheDir, `${hash}.lock`), {
    timeoutMs: opts.lockTimeoutMs ?? 20 * 60_000,
    onWait: (h) => opts.log?.(`image: waiting for pid ${h.pid} building the same image (${hash.slice(0, 12)})`),
  }, async () => {
    const done = await loadImage(finalDir, hash).catch(() => undefined);
    if (done) return done;
    // Leftovers of builders of this hash that died (we hold the lock, nobody else builds it).
    for (const name of await readdir(cacheDir)) {
      if (name.startsWith(tmpPrefix)) await rm(path.join(cacheDir, name), { recursive: true, force: true });
    }
    // An incomplete final dir (not written by us: we only rename complete builds) goes too.
    await rm(finalDir, { recursive: true, force: true });

    const tmp = await mkdtemp(path.join(cacheDir, tmpPrefix));
    try {
      opts.log?.(`image: building ${hash.slice(0, 12)} (kernel ${resolved.kernel.name}=${resolved.kernel.version}` +
        `${resolved.workloadsDir ? `, workloads ${resolved.workloadsDir}` : ', no workloads'})`);
      await runBuild(tmp, resolved, debCacheDir, opts);
      const built = await loadImage(tmp, hash);
      if (!built) throw new Error(`vm-images/build.sh succeeded but ${tmp} lacks one of ${IMAGE_FILES.join(', ')}`);
      await rename(tmp, finalDir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const image = await loadImage(finalDir, hash);
    if (!image) throw new Error(`image ${finalDir} vanished right after it was built`);
    opts.log?.(`image: built ${finalDir}`);
    return image;
  });
}

/** The cache dir for the current inputs, whether built or not (for `orchestrate image path`). */
export async function imagePath(opts: Omit<ImageOptions, 'log' | 'signal'> = {}): Promise<{ dir: string; hash: string; built: boolean }> {
  const { cacheDir, resolved } = await resolve(opts);
  const dir = path.join(cacheDir, resolved.hash);
  return { dir, hash: resolved.hash, built: (await loadImage(dir, resolved.hash).catch(() => undefined)) !== undefined };
}

/** For `orchestrate doctor`: is there a built image for the current inputs? Never throws. */
export async function imageStatus(opts: Omit<ImageOptions, 'log' | 'signal'> = {}): Promise<ImageStatus> {
  let resolvedAll: Awaited<ReturnType<typeof resolve>>;
  try {
    resolvedAll = await resolve(opts);
  } catch (err) {
    return { ok: false, message: `guest image inputs unavailable: ${(err as Error).message}`, fix: 'apt-get update && apt-get install -y busybox-static dropbear-bin' };
  }
  const { cacheDir, resolved } = resolvedAll;
  const dir = path.join(cacheDir, resolved.hash);
  const kernel = `${resolved.kernel.name}=${resolved.kernel.version}`;
  try {
    const image = await loadImage(dir, resolved.hash);
    if (image) {
      return { ok: true, hash: resolved.hash, dir, kernel, message: `guest image built: ${dir} (kernel ${image.manifest.kernelVersion})` };
    }
  } catch (err) {
    return { ok: false, hash: resolved.hash, dir, kernel, message: (err as Error).message, fix: `rm -rf ${dir} && orchestrate image build` };
  }
  return { ok: false, hash: resolved.hash, dir, kernel, message: `no guest image built for the current inputs (${kernel})`, fix: 'orchestrate image build (or npm run up)' };
}
