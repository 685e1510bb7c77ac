import { describe, expect, it } from 'vitest';
import { formatHandlerFloor, parseFloor } from '../../src/results/floor.js';

describe('handler floor: parsing and lines', () => {
  it('parses fluidlab-floor\'s line and says the ratios to the kernel fault', () => {
    const f = parseFloor('{"pages":2048,"kernel_fault_ns":10000,"uffd_process_ns":35000,"uffd_thread_ns":15000}\n', 1);
    expect(f).toEqual({ cpu: 1, pages: 2048, kernelFaultNs: 10000, uffdProcessNs: 35000, uffdThreadNs: 15000 });
    const lines = formatHandlerFloor({ floor: f });
    expect(lines[0]).toContain('cpu 1');
    expect(lines[0]).toContain('kernel fault 10.0 us');
    expect(lines[0]).toContain('another process 35.0 us (3.5x)');
    expect(lines[0]).toContain('faulting process 15.0 us (1.5x)');
  });

  it('refuses an error line, a malformed line and a missing figure', () => {
    expect(() => parseFloor('{"error":"userfaultfd: Operation not permitted"}', null)).toThrow(/Operation not permitted/);
    expect(() => parseFloor('garbage', null)).toThrow(/no JSON line/);
    expect(() => parseFloor('{"pages":1,"kernel_fault_ns":1,"uffd_process_ns":0,"uffd_thread_ns":1}', null)).toThrow(/uffd_process_ns/);
  });

  it('says when it was not measured, and nothing when it was not asked for', () => {
    expect(formatHandlerFloor({ skipped: 'x is not built' })).toEqual(['handler floor: not measured (x is not built)']);
    expect(formatHandlerFloor(undefined)).toEqual([]);
  });
});
