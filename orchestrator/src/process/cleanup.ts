/**
 * Exit-path cleanup. Owners register an async teardown; SIGINT/SIGTERM/SIGHUP run every
 * registered teardown (newest first) once, then exit with 128+signal; a second signal
 * exits at once. Normal paths call the teardown themselves and unregister it.
 */
type Teardown = () => Promise<void>;

const teardowns = new Set<Teardown>();
let installed = false;
let shuttingDown = false;

const SIGNAL_CODES: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

async function runAll(): Promise<void> {
  const all = [...teardowns].reverse();
  teardowns.clear();
  for (const t of all) {
    try { await t(); } catch (err) { console.error(`cleanup: ${(err as Error).message}`); }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(SIGNAL_CODES) as NodeJS.Signals[]) {
    process.on(sig, () => {
      if (shuttingDown) {
        // A second Ctrl-C: stop waiting for graceful shutdowns. Children started with
        // execa's cleanup are killed on exit; `orchestrate down` reaps anything else.
        console.error(`orchestrate: ${sig} again: exiting now (run 'orchestrate down --all' if anything is left)`);
        process.exit(128 + SIGNAL_CODES[sig]!);
      }
      shuttingDown = true;
      console.error(`\norchestrate: ${sig}: stopping guests, handler and Redis...`);
      void runAll().finally(() => process.exit(128 + SIGNAL_CODES[sig]!));
    });
  }
}

/** Registers a teardown for signal exits; returns a function that unregisters it. */
export function onSignalExit(t: Teardown): () => void {
  install();
  teardowns.add(t);
  return () => { teardowns.delete(t); };
}
