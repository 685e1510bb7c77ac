/**
 * `orchestrate monitor stats --control PATH [--json]` and
 * `orchestrate monitor resize --control PATH PAGES`: talk to a running fluidmem-monitor.
 */
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { flagString, parseArgs } from '../args.js';
import { timeoutMsFlag } from '../flags.js';
import { MonitorControl, type Counters, type MonitorStats } from '../../handler/control.js';

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(1)}`;
}

export function formatStats(s: MonitorStats): string {
  const rows: Array<[string, Counters & { region_bytes?: number; pid?: number }]> = [
    ...s.vms.map((v) => [v.id, v] as [string, typeof v]),
    ['TOTAL', s.total],
  ];
  const header = ['vm', 'pid', 'region', 'resident', 'remote', 'faults', 'zero', 'fetch', 'evict', 'writes',
    'p50 us', 'p99 us'];
  const table = rows.map(([id, c]) => [
    id,
    c.pid === undefined ? '' : String(c.pid),
    c.region_bytes === undefined ? '' : mib(c.region_bytes),
    String(c.resident_pages),
    String(c.remote_pages),
    String(c.faults),
    String(c.zero_fills),
    String(c.remote_fetches),
    String(c.evictions),
    String(c.backend_writes),
    us(c.fault_latency_ns.p50),
    us(c.fault_latency_ns.p99),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `capacity ${s.capacity} pages (${mib(s.capacity * 4096)}), backend ${s.backend}, ` +
      `${s.vms.length} VM(s), ${s.bytes_per_tracked_page.toFixed(1)} bytes of metadata per tracked page`,
    fmt(header),
    ...table.map(fmt),
  ].join('\n');
}

export const monitorCommand: Command = {
  name: 'monitor',
  usage: 'monitor stats|resize --control PATH [--json] [--timeout-ms MS] [PAGES]',
  summary: 'show fault-handler statistics or resize its resident set',
  async run(argv) {
    const [sub, ...rest] = argv;
    const args = parseArgs(rest, { boolean: ['json'], string: ['control', 'timeout-ms'] });
    const control = flagString(args, 'control');
    if (!control) throw new UsageError('--control PATH is required (the monitor\'s control socket)');
    const timeoutMs = timeoutMsFlag(args, 10_000);
    if (sub === 'stats') {
      if (args.positional.length) throw new UsageError(`unexpected argument '${args.positional[0]}'`);
      const c = await MonitorControl.connect(control, { timeoutMs });
      try {
        const s = await c.stats();
        console.log(args.flags.has('json') ? JSON.stringify(s, null, 2) : formatStats(s));
      } finally {
        c.close();
      }
      return 0;
    }
    if (sub === 'resize') {
      const [pagesArg, ...extra] = args.positional;
      if (!pagesArg || extra.length) throw new UsageError('resize takes exactly one PAGES argument');
      if (!/^[1-9][0-9]*$/.test(pagesArg)) throw new UsageError(`PAGES must be a positive integer (4 KiB pages), got '${pagesArg}'`);
      const c = await MonitorControl.connect(control, { timeoutMs });
      try {
        const cap = await c.resize(Number(pagesArg));
        console.log(args.flags.has('json') ? JSON.stringify({ ok: true, capacity: cap }) : `capacity ${cap} pages`);
      } finally {
        c.close();
      }
      return 0;
    }
    throw new UsageError(sub ? `unknown subcommand '${sub}' (stats, resize)` : 'name a subcommand: stats or resize');
  },
};
