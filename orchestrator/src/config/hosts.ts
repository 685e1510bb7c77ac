/**
 * The `hosts:` of an experiment: the lab hosts its arms run on (ARCHITECTURE.md "Lab
 * hosts"). One host without `ssh:` is the control host, where `orchestrate up` runs; every
 * other host is reached over SSH and runs its arms with its own FluidLab checkout:
 *
 *   hosts:
 *     - { name: local }
 *     - name: lab2
 *       ssh: { host: 10.0.0.12, port: 22, user: root, identity: ~/.ssh/fluidlab,
 *              host_key: lab2.pub, root: /opt/fluidlab, work_dir: /var/tmp/fluidlab-parts }
 *   arms:
 *     - { name: dram, kind: none, placement: host }               # on the control host
 *     - { name: fm, kind: fluidmem, backend: dram, resident: 16M, placement: host, host: lab2 }
 *
 * An arm's `host:` names the host that runs it; without it, the control host. Without
 * `hosts:` nothing changes (every arm runs where `up` runs) and an arm may not name a host.
 * This file holds the schema pieces (hooked into config/schema.ts) and the cross-checks
 * (`checkHosts`, a refinement of the whole config, so every problem is FILE:LINE:COL).
 */
import { z } from 'zod';
import { closest } from './suggest.js';

const hostName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'use lower-case letters, digits, - and _ (at most 40)');

const absolutePath = z.string().regex(/^\//, 'an absolute path on that host (/...)');

/** How the control host reaches a lab host. Paths on the control host (identity,
 * host_key) may start with ~/; relative ones are taken from the current directory. */
export const sshTargetSchema = z.object({
  host: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'a host name or an IP address'),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/, 'a user name').default('root'),
  /** The private key (OpenSSH or PEM) the control host logs in with. */
  identity: z.string().min(1),
  /** The host's public key (an OpenSSH .pub or known_hosts line); when given, any other
   * host key is refused. Without it the key's SHA-256 fingerprint is recorded. */
  host_key: z.string().min(1).optional(),
  /** The FluidLab checkout on that host (default: the control host's checkout path). */
  root: absolutePath.optional(),
  /** Where that host's part writes its results before they are copied back. */
  work_dir: absolutePath.default('/var/tmp/fluidlab-parts'),
}).strict();

export const labHostSchema = z.object({
  name: hostName,
  /** Absent: the control host itself. */
  ssh: sshTargetSchema.optional(),
}).strict();

/** `hosts:` (optional at the top level). */
export const hostsSchema = z.array(labHostSchema).min(1, 'list at least one host').optional();

/** An arm's `host:` (optional). */
export const armHostSchema = hostName.optional();

export type LabHostConfig = z.infer<typeof labHostSchema>;
export type SshTargetConfig = z.infer<typeof sshTargetSchema>;

/** The name of the control host of `hosts` (the one without ssh:), if there is one. */
export function controlHostName(hosts: readonly LabHostConfig[] | undefined): string | undefined {
  return hosts?.find((h) => !h.ssh)?.name;
}

/** The host that runs `arm`: its `host:`, else the control host; undefined without `hosts:`. */
export function armHostName(arm: { host?: string }, hosts: readonly LabHostConfig[] | undefined): string | undefined {
  if (!hosts) return undefined;
  return arm.host ?? controlHostName(hosts);
}

/** Refinement of the whole config: names unique, at most one control host, every arm's
 * host listed, and every arm placed somewhere. */
export function checkHosts(c: { hosts?: LabHostConfig[]; arms: { name: string; host?: string }[] }, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  if (!c.hosts) {
    c.arms.forEach((a, i) => {
      if (a.host !== undefined) issue(['arms', i, 'host'], `arm '${a.name}' names host '${a.host}', but the config has no hosts: list (add hosts: with a host of that name)`);
    });
    return;
  }
  const names: string[] = [];
  let control: string | undefined;
  c.hosts.forEach((h, i) => {
    if (names.includes(h.name)) issue(['hosts', i, 'name'], `duplicate host name '${h.name}'`);
    names.push(h.name);
    if (!h.ssh) {
      if (control !== undefined) issue(['hosts', i], `hosts '${control}' and '${h.name}' both lack ssh:; only one host is the control host (where up runs), give the others ssh:`);
      else control = h.name;
    }
  });
  c.arms.forEach((a, i) => {
    if (a.host === undefined) {
      if (control === undefined) issue(['arms', i], `arm '${a.name}' has no host: and every host of hosts: has ssh: (no control host); name its host (${names.join(', ')})`);
    } else if (!names.includes(a.host)) {
      const hint = closest(a.host, names);
      issue(['arms', i, 'host'], `'${a.host}' is not a host of hosts: (${hint ? `did you mean '${hint}'? ` : ''}hosts: ${names.join(', ')})`);
    }
  });
}
