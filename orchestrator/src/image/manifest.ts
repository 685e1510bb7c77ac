/** DIR/manifest.json written by vm-images/build.sh. */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export const imageManifestSchema = z.object({
  kernelVersion: z.string().min(1),
  kernelPackage: z.string().min(1),
  kernelPackageVersion: z.string().min(1),
  /** The kernel file to pass to QEMU -kernel: vmlinux (uncompressed, PVH entry) or vmlinuz. */
  bootKernel: z.enum(['vmlinux', 'vmlinuz']),
  busyboxVersion: z.string().min(1),
  dropbearVersion: z.string().min(1),
  modules: z.array(z.string()),
  builtinModules: z.array(z.string()),
  workloads: z.array(z.string()),
  /** The guest's SSH host key, OpenSSH public key line. */
  hostKey: z.string().min(1),
  builtAt: z.string().min(1),
  inputsHash: z.string().nullable(),
});

export type ImageManifest = z.infer<typeof imageManifestSchema>;

export async function readManifest(file: string): Promise<ImageManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`image manifest ${file} is unreadable (${(err as Error).message}); rebuild with 'orchestrate image build'`);
  }
  const parsed = imageManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`image manifest ${file} is invalid at '${issue?.path.join('.')}': ${issue?.message}; rebuild with 'orchestrate image build'`);
  }
  return parsed.data;
}
