/**
 * A small typed QMP client. Connects to QEMU's QMP Unix socket, reads the greeting,
 * negotiates capabilities, then matches replies to commands by id. Asynchronous events
 * are emitted as 'event' and can be awaited with waitForEvent(). When QEMU goes away,
 * every pending command fails with QmpClosedError.
 *
 * A message that breaks the protocol (a line that is not a JSON object, an error or return
 * without an id: QEMU could not parse a command, so no reply will ever carry its id) ends
 * the connection, as QEMU's own client (python/qemu/qmp) does: every pending command and
 * event wait fails at once with QmpProtocolError instead of waiting out its timeout.
 * Framing (one JSON object per CRLF-terminated line) is protocol/json-lines.ts.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { encodeJsonLine, LineSplitter, parseJsonObjectLine } from '../protocol/json-lines.js';
import type { QmpCommandName, QmpCommands, QmpEvent, QmpGreeting } from './types.js';

export class QmpError extends Error {
  override name = 'QmpError';
  constructor(readonly command: string, readonly errorClass: string, desc: string) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

export class QmpClosedError extends Error {
  override name = 'QmpClosedError';
}

/** QEMU sent something the protocol does not allow; the connection is closed because of it
 * (a QmpClosedError too: nothing more can be sent or received). */
export class QmpProtocolError extends QmpClosedError {
  override name = 'QmpProtocolError';
}

export class QmpTimeoutError extends Error {
  override name = 'QmpTimeoutError';
}

export interface QmpConnectOptions {
  /** Time allowed for connect + greeting + capabilities. */
  timeoutMs?: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class QmpClient extends EventEmitter {
  private readonly pending = new Map<string, Pending>();
  private readonly splitter = new LineSplitter();
  private nextId = 1;
  private closedError: Error | undefined;
  greeting: QmpGreeting | undefined;
  readonly events: QmpEvent[] = [];

  private constructor(private readonly socket: Socket, private readonly path: string, private readonly commandTimeoutMs: number) {
    super();
  }

  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const socket = connect(path);
    socket.setEncoding('utf8');
    const client = new QmpClient(socket, path, opts.commandTimeoutMs ?? 30_000);
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QmpTimeoutError(`no QMP greeting on ${path} within ${timeoutMs} ms`)), timeoutMs);
      client.once('greeting', (g: QmpGreeting) => { clearTimeout(timer); resolve(g); });
      client.once('close', (err: Error) => { clearTimeout(timer); reject(err); });
    });
    socket.on('data', (chunk: string) => client.onData(chunk));
    // A dying QEMU shows up as 'close', or first as an 'error' (ECONNRESET): same meaning.
    const closed = (err?: Error) => client.onClose(new QmpClosedError(client.greeting || !err
      ? `QEMU closed the QMP connection on ${path}${err ? ` (${err.message})` : ''} (did QEMU exit? see its log)`
      : `cannot connect to the QMP socket ${path}: ${err.message}`));
    socket.on('error', (err) => closed(err));
    socket.on('close', () => closed());
    try {
      client.greeting = await greeting;
      await client.execute('qmp_capabilities', {}, { timeoutMs });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  private onData(chunk: string): void {
    for (const line of this.splitter.push(chunk)) {
      if (this.closedError) return;
      const msg = parseJsonObjectLine(line, 'QMP');
      if (msg instanceof Error) return this.protocolError(msg.message);
      if ('QMP' in msg) this.emit('greeting', msg as unknown as QmpGreeting);
      else if ('event' in msg) {
        const ev = msg as unknown as QmpEvent;
        this.events.push(ev);
        this.emit('event', ev);
      } else if ('id' in msg) this.settle(String(msg.id), msg);
      else if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string } | undefined;
        return this.protocolError(`QMP sent an error reply without an id (QEMU could not parse a command): ${e?.class ?? 'GenericError'}: ${e?.desc ?? 'no description'}`);
      } else return this.protocolError(`QMP sent a message that is neither a reply with an id nor an event: ${line.slice(0, 200)}`);
    }
  }

  /** Ends the connection: the stream can no longer be trusted to answer pending commands. */
  private protocolError(message: string): void {
    this.onClose(new QmpProtocolError(`${message} (on ${this.path}; connection closed)`));
    this.socket.destroy();
  }

  private settle(id: string, msg: Record<string, unknown>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else p.resolve(msg.return);
  }

  private onClose(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    const Kind = err instanceof QmpProtocolError ? QmpProtocolError : QmpClosedError;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Kind(`${err.message} (while waiting for ${p.command})`));
      this.pending.delete(id);
    }
    this.emit('close', err);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  execute<C extends QmpCommandName>(
    command: C,
    args?: QmpCommands[C]['args'],
    opts: { timeoutMs?: number } = {},
  ): Promise<QmpCommands[C]['ret']> {
    if (this.closedError) {
      const Kind = this.closedError instanceof QmpProtocolError ? QmpProtocolError : QmpClosedError;
      return Promise.reject(new Kind(`${this.closedError.message} (cannot send ${command})`));
    }
    const id = `fl-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(`QMP ${command} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encodeJsonLine(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }, '\r\n'));
    });
  }

  /** Resolves with the first event named `name` that arrives after this call (or already
   * arrived, when `includePast`), rejects on timeout or when QEMU goes away. */
  waitForEvent(name: string, opts: { timeoutMs: number; includePast?: boolean }): Promise<QmpEvent> {
    if (opts.includePast) {
      const past = this.events.find((e) => e.event === name);
      if (past) return Promise.resolve(past);
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (ev: QmpEvent) => { if (ev.event === name) { done(); resolve(ev); } };
      const onClose = (err: Error) => { done(); reject(err); };
      const timer = setTimeout(() => { done(); reject(new QmpTimeoutError(`no QMP ${name} event within ${opts.timeoutMs} ms`)); }, opts.timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
