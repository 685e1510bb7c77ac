/** The problems (FILE:LINE:COL lines) a config source is refused with; throws if accepted. */
import { ConfigError, parseConfig } from '../../src/config/load.js';

export function configProblems(src: string, file = 'x.yaml'): string[] {
  try {
    parseConfig(src, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}
