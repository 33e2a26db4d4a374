// Forwards the engine's Notify stream to one subscriber (a window, the tray, the test bridge).
// Each subscription opens its own engine watch, so every subscriber starts from the engine's own
// full snapshot (tailscale's NotifyInitialState idea) and nobody keeps a second copy of the truth.
// A malformed message is dropped, counted and logged; it never ends the stream.
import { NotifySchema, type Notify } from '../../../common/schemas/notify.js';
import type { Clock, Logger } from '../../engine/ports/ports.js';
import type { EngineConnection } from '../engine-host/engine-connection.js';
import { describeIssues } from './router.js';

export interface ForwarderStats {
  forwarded: number;
  dropped: number;
  reconnects: number;
}

export class NotifyForwarder {
  readonly stats: ForwarderStats = { forwarded: 0, dropped: 0, reconnects: 0 };

  constructor(
    private readonly engine: EngineConnection,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly retryMs = 1_000,
  ) {}

  /** Starts forwarding; the returned function stops it. `onDown` hears when the engine stream broke. */
  subscribe(sink: (n: Notify) => void, onDown?: (reason: string) => void): () => void {
    const ctl = new AbortController();
    const loop = async (): Promise<void> => {
      while (!ctl.signal.aborted) {
        try {
          for await (const raw of this.engine.watch(ctl.signal)) {
            const parsed = NotifySchema.safeParse(raw);
            if (!parsed.success) {
              this.stats.dropped++;
              this.log.warn('notify: dropped malformed message', { reason: describeIssues(parsed.error.issues) });
              continue;
            }
            this.stats.forwarded++;
            sink(parsed.data);
          }
          if (ctl.signal.aborted) return;
          onDown?.('the engine closed the status stream');
        } catch (e) {
          if (ctl.signal.aborted) return;
          const reason = e instanceof Error ? e.message : String(e);
          this.log.warn('notify: engine stream failed', { reason });
          onDown?.(reason);
        }
        // Reconnect after a pause: a restarted daemon answers the next watch with a fresh snapshot.
        this.stats.reconnects++;
        await new Promise<void>((resolve) => {
          const t = this.clock.setTimeout(resolve, this.retryMs);
          ctl.signal.addEventListener('abort', () => { t.cancel(); resolve(); }, { once: true });
        });
      }
    };
    void loop();
    return () => ctl.abort();
  }
}
