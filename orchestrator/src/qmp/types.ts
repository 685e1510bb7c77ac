/** The subset of the QMP schema FluidLab uses (QEMU 7.2 qapi). */

export interface QmpGreeting {
  QMP: { version: { qemu: { major: number; minor: number; micro: number }; package: string }; capabilities: string[] };
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export type RunState = 'running' | 'paused' | 'prelaunch' | 'shutdown' | 'guest-panicked' | 'inmigrate' | 'postmigrate' | 'finish-migrate' | 'suspended' | 'watchdog' | 'internal-error' | 'io-error' | 'debug' | 'restore-vm' | 'save-vm' | 'colo';

/** Commands with their argument and return types. */
export interface QmpCommands {
  qmp_capabilities: { args: { enable?: string[] }; ret: Record<string, never> };
  'query-status': { args: undefined; ret: { running: boolean; status: RunState; singlestep?: boolean } };
  'query-version': { args: undefined; ret: QmpGreeting['QMP']['version'] };
  'query-kvm': { args: undefined; ret: { enabled: boolean; present: boolean } };
  cont: { args: undefined; ret: Record<string, never> };
  stop: { args: undefined; ret: Record<string, never> };
  system_powerdown: { args: undefined; ret: Record<string, never> };
  system_reset: { args: undefined; ret: Record<string, never> };
  quit: { args: undefined; ret: Record<string, never> };
  /** virtio-balloon: the guest's target size in bytes (needs -device virtio-balloon-pci
   * and the guest's virtio_balloon driver); query-balloon says where it is. */
  balloon: { args: { value: number }; ret: Record<string, never> };
  'query-balloon': { args: undefined; ret: { actual: number } };
  /** One entry per vCPU; `thread-id` is the host thread running it (TCG and KVM). */
  'query-cpus-fast': { args: undefined; ret: Array<{ 'cpu-index': number; 'thread-id': number; target: string }> };
  'human-monitor-command': { args: { 'command-line': string }; ret: string };
}

export type QmpCommandName = keyof QmpCommands;
