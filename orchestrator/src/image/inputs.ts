/**
 * The inputs of a guest image and their content hash: the recipe files (vm-images/ minus
 * cache/ and docs), the kernel package name+version, the installed busybox-static and
 * dropbear-bin versions, and the workload files (name, mode, contents).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { buildScript, recipeDir } from './paths.js';

/** Bump when the meaning of the inputs changes (forces a rebuild everywhere). */
const INPUTS_SCHEMA = 1;

export interface KernelPackage {
  name: string;
  version: string;
  /** Set when the kernel comes from an explicit .deb file (--kernel-deb). */
  deb?: string;
}

export interface ImageInputs {
  schema: number;
  recipe: { path: string; sha256: string }[];
  kernel: { name: string; version: string; debSha256?: string };
  busybox: string;
  dropbear: string;
  workloads: { name: string; sha256: string; executable: boolean }[];
}

export interface ResolvedInputs {
  inputs: ImageInputs;
  hash: string;
  kernel: KernelPackage;
  /** Workloads directory actually used (undefined: none). */
  workloadsDir?: string;
}

export interface InputsOptions {
  workloadsDir?: string;
  kernelDeb?: string;
  debCacheDir: string;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Recipe files: everything under vm-images/ except cache/ and *.md, as sorted relative paths. */
async function recipeFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (relPath === 'cache') continue;
      out.push(...(await recipeFiles(dir, relPath)));
    } else if (entry.isFile() && !entry.name.endsWith('.md')) {
      out.push(relPath);
    }
  }
  return out.sort();
}

async function run(file: string, args: string[], what: string, fix: string): Promise<string> {
  const r = await execa(file, args, { reject: false, stdin: 'ignore' });
  if (r.failed || r.exitCode !== 0) {
    const detail = String(r.stderr || r.stdout || r.message).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${what} failed: ${detail}; ${fix}`);
  }
  return String(r.stdout).trim();
}

/** The kernel package to build with: from the .deb if given, else what linux-image-amd64 depends on. */
export async function resolveKernelPackage(opts: { kernelDeb?: string; debCacheDir: string }): Promise<KernelPackage> {
  if (opts.kernelDeb) {
    const deb = path.resolve(opts.kernelDeb);
    const out = await run('dpkg-deb', ['-f', deb, 'Package', 'Version'], `dpkg-deb -f ${deb}`,
      'pass a Debian linux-image .deb file');
    const fields = Object.fromEntries(out.split('\n').map((l) => [l.split(':')[0]!.trim(), l.slice(l.indexOf(':') + 1).trim()]));
    if (!fields.Package || !fields.Version) throw new Error(`${deb} has no Package/Version control fields; pass a Debian linux-image .deb`);
    return { name: fields.Package, version: fields.Version, deb };
  }
  const out = await run('bash', [buildScript, '--resolve-kernel', '--deb-cache', opts.debCacheDir],
    'resolving the guest kernel package', "run 'apt-get update' (Debian 12 sources) or pass a kernel .deb");
  const [name, version] = out.split(/\s+/);
  if (!name || !version) throw new Error(`build.sh --resolve-kernel printed '${out}', expected 'NAME VERSION'`);
  return { name, version };
}

/** Installed versions of busybox-static and dropbear-bin (the image copies the host's binaries). */
export async function packageVersions(): Promise<{ busybox: string; dropbear: string }> {
  const r = await execa('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status} ${Version}\n', 'busybox-static', 'dropbear-bin'],
    { reject: false, stdin: 'ignore' });
  const versions = new Map<string, string>();
  for (const line of String(r.stdout).split('\n')) {
    const [pkg, status, version] = line.trim().split(/\s+/);
    if (pkg && status === 'installed' && version) versions.set(pkg, version);
  }
  const missing = ['busybox-static', 'dropbear-bin'].filter((p) => !versions.has(p));
  if (missing.length) throw new Error(`guest image needs ${missing.join(' and ')} installed: apt-get install -y ${missing.join(' ')}`);
  return { busybox: versions.get('busybox-static')!, dropbear: versions.get('dropbear-bin')! };
}

/**
 * Top-level regular files of the workloads dir (symlinks followed) except *-host (host
 * builds, not shipped), as build.sh copies them.
 */
async function workloadFiles(dir: string): Promise<ImageInputs['workloads']> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new Error(`workloads directory ${dir} is not readable (${(err as Error).message}); build the workloads first or pass another directory`);
  }
  const out: ImageInputs['workloads'] = [];
  for (const name of entries.sort()) {
    if (name.endsWith('-host')) continue;
    const file = path.join(dir, name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    out.push({ name, sha256: sha256(await readFile(file)), executable: (st.mode & 0o111) !== 0 });
  }
  return out;
}

/** Collects the inputs and hashes them (sha256 of their canonical JSON). */
export async function resolveInputs(opts: InputsOptions): Promise<ResolvedInputs> {
  const [files, kernel, versions, workloads] = await Promise.all([
    recipeFiles(recipeDir),
    resolveKernelPackage(opts),
    packageVersions(),
    opts.workloadsDir ? workloadFiles(opts.workloadsDir) : Promise.resolve([]),
  ]);
  const recipe = await Promise.all(files.map(async (p) => ({ path: p, sha256: sha256(await readFile(path.join(recipeDir, p))) })));
  const inputs: ImageInputs = {
    schema: INPUTS_SCHEMA,
    recipe,
    kernel: {
      name: kernel.name,
      version: kernel.version,
      ...(kernel.deb ? { debSha256: sha256(await readFile(kernel.deb)) } : {}),
    },
    busybox: versions.busybox,
    dropbear: versions.dropbear,
    workloads,
  };
  return {
    inputs,
    hash: sha256(JSON.stringify(inputs)),
    kernel,
    ...(opts.workloadsDir ? { workloadsDir: opts.workloadsDir } : {}),
  };
}
