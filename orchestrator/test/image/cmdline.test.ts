import { describe, expect, it } from 'vitest';
import { kernelCommandLine } from '../../src/image/cmdline.js';

describe('kernelCommandLine', () => {
  it('has the serial console and reboot-on-panic', () => {
    expect(kernelCommandLine()).toBe('console=ttyS0 panic=-1 quiet no_timer_check');
  });
  it('adds the swap device and extra parameters', () => {
    expect(kernelCommandLine({ swapDevice: '/dev/vdb', extra: ['loglevel=4'] }))
      .toBe('console=ttyS0 panic=-1 quiet no_timer_check fluidlab.swap=/dev/vdb loglevel=4');
  });
  it('rejects a swap device that is not a /dev path', () => {
    expect(() => kernelCommandLine({ swapDevice: 'vdb' })).toThrow(/\/dev\/vdb/);
  });
  it('rejects extra parameters with whitespace', () => {
    expect(() => kernelCommandLine({ extra: ['a b'] })).toThrow(/one parameter per entry/);
  });
});
