/** Renders a vega-lite spec to an SVG string in Node (headless vega View, no DOM, no network). */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  // No loader access: every chart's data is inline, so any fetch attempt is a bug.
  const loader = vega.loader();
  loader.load = async (uri: string) => { throw new Error(`report charts must not load external data (${uri})`); };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
