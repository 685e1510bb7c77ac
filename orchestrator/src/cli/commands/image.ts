/** `orchestrate image build|path|status`: the cached guest image (vm-images/). */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { ensureImage, imagePath, imageStatus, type ImageOptions } from '../../image/index.js';

function imageOptions(workloads: string | undefined, noWorkloads: boolean): Pick<ImageOptions, 'workloadsDir'> {
  if (noWorkloads) return { workloadsDir: null };
  return workloads !== undefined ? { workloadsDir: workloads } : {};
}

export const imageCommand: Command = {
  name: 'image',
  usage: 'image build|path|status [--workloads DIR|--no-workloads] [--json]',
  summary: 'build (if needed) or locate the cached guest image',
  async run(argv) {
    const args = parseArgs(argv, { boolean: ['json', 'no-workloads'], string: ['workloads'] });
    const [sub, ...extra] = args.positional;
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const json = args.flags.has('json');
    const opts = imageOptions(flagString(args, 'workloads'), args.flags.has('no-workloads'));
    switch (sub) {
      case 'build': {
        const image = await ensureImage({ ...opts, log: (line) => console.error(line) });
        if (json) console.log(JSON.stringify(image, null, 2));
        else console.log(`${image.dir} (kernel ${image.manifest.kernelVersion}, workloads: ${image.manifest.workloads.join(' ') || 'none'})`);
        return 0;
      }
      case 'path': {
        const p = await imagePath(opts);
        if (json) console.log(JSON.stringify(p));
        else console.log(p.dir);
        if (!p.built) console.error(`image: ${p.dir} is not built yet; run 'orchestrate image build'`);
        return p.built ? 0 : 1;
      }
      case 'status': {
        const s = await imageStatus(opts);
        if (json) console.log(JSON.stringify(s));
        else console.log(s.ok ? s.message : `${s.message}\n  fix: ${s.fix}`);
        return s.ok ? 0 : 1;
      }
      case undefined:
        throw new UsageError('name a subcommand: build, path or status');
      default:
        throw new UsageError(`unknown subcommand '${sub}' (build, path, status)`);
    }
  },
};
