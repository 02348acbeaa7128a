import type { Logger } from '../util/logger.js';
import { redactSecrets } from '../util/redact.js';

/** One line for STATUS= (what `systemctl status` shows to anyone): credentials out, at most 400 characters, so a notification stays one small datagram. */
function statusText(line: string): string {
  // Redacted before the lines are joined: a URL's userinfo is bounded by its own line.
  const one = redactSecrets(line).replace(/\s+/g, ' ');
  return one.length > 400 ? `${one.slice(0, 399)}…` : one;
}

/**
 * Tells the service manager (sd_notify(3) through the addon) how the daemon is: READY=1 once it
 * serves, STATUS= a one-line summary, WATCHDOG=1 while a liveness check passes, STOPPING=1 on
 * the way out. Outside a service manager ($NOTIFY_SOCKET unset) every call is a no-op.
 */
export class ServiceNotifier {
  private watchdog: NodeJS.Timeout | null = null;
  private stuck: string | null = null;

  constructor(
    private readonly send: (state: string) => boolean,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Whether a service manager listens. */
  get managed(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /** The watchdog interval systemd asks for (µs), when it asks this process. */
  watchdogUsec(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    const pid = this.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0) return null;
    if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return null;
    return usec;
  }

  notify(state: string): void {
    if (!this.managed) return;
    try {
      this.send(state);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, state: state.split('\n')[0] },
        'could not notify the service manager',
      );
    }
  }

  status(line: string): void {
    this.notify(`STATUS=${statusText(line)}`);
  }

  ready(status: string): void {
    this.notify(`READY=1\nSTATUS=${statusText(status)}\nMAINPID=${process.pid}`);
  }

  stopping(): void {
    this.stopWatchdog();
    this.notify('STOPPING=1\nSTATUS=stopping: closing cameras, writing events and clips');
  }

  /**
   * Feeds the watchdog at half its interval while `check` returns null; a reason stops the pings
   * (systemd then kills and restarts the daemon after WatchdogSec) and goes to the log and STATUS.
   */
  startWatchdog(check: () => string | null): void {
    const usec = this.watchdogUsec();
    if (usec === null || this.watchdog) return;
    const tick = () => {
      let reason: string | null;
      try {
        reason = check();
      } catch (err) {
        reason = `the liveness check failed: ${(err as Error).message}`;
      }
      if (reason === null) {
        if (this.stuck !== null)
          this.log.warn({ was: this.stuck }, 'the pipeline makes progress again: feeding the watchdog');
        this.stuck = null;
        this.notify('WATCHDOG=1');
        return;
      }
      if (this.stuck === null) {
        this.log.error(
          { reason },
          'the pipeline is stuck: no longer feeding the watchdog (the service manager will restart the daemon)',
        );
        this.status(`stuck: ${reason}`);
      }
      this.stuck = reason;
    };
    tick();
    this.watchdog = setInterval(tick, Math.max(50, usec / 2000));
  }

  /** The reason the watchdog is not fed, or null. */
  get stuckReason(): string | null {
    return this.stuck;
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
