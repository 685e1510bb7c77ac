/**
 * The sub-config a lab host runs: the experiment's YAML with only that host's arms, as an
 * ordinary config (no hosts:, no arm host:), so the host's part is a plain experiment of
 * its own FluidLab and its results directory reads like any other. Edited on the YAML
 * document (comments and layout kept), never re-serialised from the parsed config:
 *
 *   - hosts: removed; arms: only the kept ones, each without host:;
 *   - headline: and reference: removed (they compare arms across hosts: the control host
 *     does that on the merged results);
 *   - timeline: an action's arms: list keeps only kept arms; an action left with none
 *     is dropped (an action without arms: stays);
 *   - aliases (*name) are replaced by copies of what they name first, so removing the arm
 *     that holds an anchor (&name) leaves no alias pointing at nothing.
 */
import { isMap, isSeq, parseDocument, visit, type Node, type YAMLMap } from 'yaml';

/** Returns the YAML source of `source` with only the arms named in `keep` (see above). */
export function subConfigSource(source: string, keep: readonly string[]): string {
  const doc = parseDocument(source);
  visit(doc, {
    Alias(_, alias) {
      const target = alias.resolve(doc);
      if (!target) return undefined; // the loader already refused an unknown alias
      const copy = target.clone() as Node;
      visit(copy, { Node(__, n) { if ('anchor' in n) delete (n as { anchor?: string }).anchor; } });
      delete (copy as { anchor?: string }).anchor;
      return copy;
    },
  });
  for (const key of ['hosts', 'headline', 'reference']) doc.delete(key);
  const arms = doc.get('arms', true);
  if (isSeq(arms)) {
    arms.items = arms.items.filter((item) => isMap(item) && keep.includes(String(item.get('name'))));
    for (const item of arms.items) (item as YAMLMap).delete('host');
  }
  const timeline = doc.get('timeline', true);
  if (isSeq(timeline)) {
    timeline.items = timeline.items.filter((action) => {
      if (!isMap(action)) return true;
      const names = action.get('arms', true);
      if (!isSeq(names)) return true;
      names.items = names.items.filter((n) => keep.includes(String((n as { value?: unknown }).value ?? n)));
      return names.items.length > 0;
    });
  }
  return doc.toString();
}
