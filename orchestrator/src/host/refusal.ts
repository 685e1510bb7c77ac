/** HostRefusal: the host cannot run the host-placement arm as asked. The message is one
 * line saying what is missing and how to fix it (thrown by preconditions.ts and by
 * swap-device.ts when another run's swap appeared meanwhile). */
export class HostRefusal extends Error {
  override readonly name = 'HostRefusal';
}

/** The refusal for swap areas that the kernel would fill before ours. */
export function outrankedRefusal(priority: number, outranking: { device: string; priority: number }[]): HostRefusal {
  const list = outranking.map((s) => `${s.device} (priority ${s.priority})`).join(', ');
  return new HostRefusal(`swap already active with priority >= ${priority}: ${list}; the run's pages would go there: swapoff it for the run, or lower its priority`);
}
