// Lite updates (control.md §11.2, tailscale controlclient direct.go sendMapRequest with
// OmitPeers): a non-streaming MapRequest that tells control about us between map polls, when our
// endpoints / home DERP change (peers need them to reach us) or when the Hostinfo changes (hostname,
// advertised routes…). Each is retried with backoff until sent; a newer update supersedes one still
// retrying (it carries everything the older one did, being built from the state of now).
import type { Clock, Logger, Random } from '../ports/ports.js';
import type { MapRequest } from '../control/messages.js';
import { backoffDelay, sleep } from './backoff.js';
import type { ControlClientPort } from './control-port.js';
import type { BackendCounters } from './counters.js';
import { hostinfoKey } from './hostinfo.js';

/**
 * How long one lite update may wait for control's 200 before it is retried. Shorter than the
 * client's 60 s default: once, under load, Headscale did not answer one for over 30 s, and the
 * advertised routes it carried reached nobody in that time.
 */
export const LITE_UPDATE_TIMEOUT_MS = 15_000;

export interface LiteUpdateDeps {
  clock: Clock;
  random: Random;
  logger: Logger;
  counters: BackendCounters;
  client(): ControlClientPort;
  /** A Stream:false MapRequest as of now (throws without a node key: retried like a failure). */
  request(): MapRequest;
}

export class LiteUpdates {
  /** Bumped by every update: an older one still retrying gives up. */
  private gen = 0;
  /** hostinfoKey of the Hostinfo control got last (stream request or lite update). */
  private sentHostinfo = '';

  constructor(private readonly d: LiteUpdateDeps) {}

  /** A streaming MapRequest went out with this Hostinfo: control has it now. */
  streamed(req: MapRequest): void {
    this.sentHostinfo = hostinfoKey(req.Hostinfo);
  }

  /** Our endpoints or home DERP changed: tell control, whatever the Hostinfo. */
  endpointsChanged(sig: AbortSignal | undefined): void {
    this.send(sig, 'endpoint update', (req) => {
      this.sentHostinfo = hostinfoKey(req.Hostinfo);
      this.d.logger.info('backend: sent endpoints', { endpoints: req.Endpoints ?? [] });
    });
  }

  /** Prefs changed: tell control only when the Hostinfo now differs from what it got last. */
  hostinfoMaybeChanged(sig: AbortSignal | undefined): void {
    const first = this.d.request();
    const key = hostinfoKey(first.Hostinfo);
    if (key === this.sentHostinfo) return;
    this.send(sig, 'Hostinfo update', () => {
      this.sentHostinfo = key;
      this.d.logger.info('backend: sent Hostinfo update', { hostname: first.Hostinfo.Hostname });
    });
  }

  /** Sends (rebuilding the request each try) until it went out, the session ends or a newer one starts. */
  private send(sig: AbortSignal | undefined, what: string, sent: (req: MapRequest) => void): void {
    const gen = ++this.gen;
    void (async () => {
      let failures = 0;
      while (gen === this.gen && sig && !sig.aborted) {
        try {
          const client = this.d.client();
          const req = this.d.request();
          await client.mapUpdate(req, { signal: sig, timeoutMs: LITE_UPDATE_TIMEOUT_MS });
          this.d.counters.liteUpdates++;
          sent(req);
          return;
        } catch (e) {
          if (sig.aborted) return;
          failures++;
          this.d.logger.warn(`backend: ${what} failed; retrying`, { err: e });
          if (!(await sleep(this.d.clock, backoffDelay(failures, this.d.random), sig))) return;
        }
      }
    })();
  }
}
