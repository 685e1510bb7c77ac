/** runNotes: what qualifies a run's numbers in the runs table (pure logic). */
import { describe, expect, it } from 'vitest';
import { runNotes } from '../../src/report/sections.js';
import type { RunRecord } from '../../src/results/types.js';

const rec = (metrics: Record<string, number>, extra: Partial<RunRecord> = {}) => ({ metrics, ...extra }) as RunRecord;

describe('runNotes', () => {
  it('names OOM guard rescues and monitor restarts, nothing for a clean run', () => {
    expect(runNotes(undefined)).toEqual([]);
    expect(runNotes(rec({ 'cgroup.oom_stalls': 0, 'cgroup.oom_rescues': 0, 'cgroup.oom_guard_failed': 0 }))).toEqual([]);
    expect(runNotes(rec({ 'cgroup.oom_stalls': 3, 'cgroup.oom_rescues': 2 }))).toEqual(['3 memory cgroup OOM stalls, 2 ended by the OOM guard (their time is in the latency)']);
    expect(runNotes(rec({ 'cgroup.oom_guard_failed': 1 }))).toEqual(["the OOM guard died during the run (the kernel's OOM killer was turned back on)"]);
    const restart = { at: '', exit: 'SIGKILL', oldPid: 1, ok: true, ms: 3 };
    expect(runNotes(rec({ 'cgroup.oom_stalls': 1, 'cgroup.oom_rescues': 1 }, { monitorRestarts: [restart] }))).toEqual([
      '1 memory cgroup OOM stall, 1 ended by the OOM guard (their time is in the latency)', 'the monitor was restarted 1 time']);
  });
});
