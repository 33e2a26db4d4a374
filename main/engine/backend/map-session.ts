// The streaming map poll of a logged-in node (control.md §7, §13; tailscale controlclient
// auto.go mapRoutine + map.go mapSession): one Stream:true MapRequest after another, each fed into
// the NetMap, with
//   - a watchdog: no message at all (keep-alives included) for MAP_WATCHDOG_MS → the stream is dead;
//   - reconnects with backoff + jitter after ANY failure, reset by a stream's first netmap;
//   - a bad message → drop the stream, keep the last good netmap, redial;
//   - control's PingRequests answered without stalling the stream;
//   - the self key's expiry (now, or by a timer) and a 404 → 'relogin' (register again).
// What the netmap means for the rest of the engine (state, data path, Status) is LocalBackend's
// business: it hears about it through the MapSessionHost hooks.
import type { Clock, Logger, Random, Timer } from '../ports/ports.js';
import type { MapRequest } from '../control/messages.js';
import type { NetMap } from '../netmap/netmap.js';
import { parseMapResponse } from '../netmap/tailcfg.js';
import { backoffDelay, sleep } from './backoff.js';
import { isNodeNotFound, type ControlClientPort } from './control-port.js';
import type { BackendCounters } from './counters.js';
import { MAX_TIMER_MS, selfKeyExpiresInMs } from './key-expiry.js';

/** No map message (keep-alives included) for this long → the stream is dead (control.md §13). */
export const MAP_WATCHDOG_MS = 120_000;

/** 'stopped': the session ended; 'relogin': control no longer takes our node key, register again. */
export type MapSessionEnd = 'stopped' | 'relogin';

export interface MapSessionHost {
  clock: Clock;
  random: Random;
  logger: Logger;
  counters: BackendCounters;
  watchdogMs: number;
  /** The model the messages are applied to (owned by LocalBackend). */
  netmap: NetMap;
  client(): ControlClientPort;
  /** The Stream:true MapRequest for a new stream (the backend notes the Hostinfo it carries). */
  streamRequest(): MapRequest;
  /** Control's idea of now: the self key's expiry is judged by it. */
  controlNow(): number;
  /** A stream's first netmap arrived: the node is live and reachable again. */
  streamUp(): void;
  /** A non-keep-alive message was applied (the data path and the OS follow the netmap). */
  netmapChanged(): void;
  /** …and did not end the stream: Status changed. */
  statusChanged(): void;
  /** A stream ended, however (Self.Online goes false). */
  streamDown(): void;
  /** The self node key expired: the backend rotates it before registering again. */
  keyExpired(): void;
  /** Control does not know our node key (404): the backend registers again with the same key. */
  nodeUnknown(): void;
  /** A stream failed and is being redialed after a backoff (the "not connected" health line). */
  disconnected(): void;
}

interface StreamEnd {
  /** Why we dropped the stream ourselves (watchdog, bad message, key expiry); undefined: it ended or failed. */
  dropReason: string | undefined;
  /** The self key expired during the stream. */
  expired: boolean;
  /** What mapStream rejected with (undefined: the server ended the stream). */
  err: unknown;
}

export class MapSession {
  private readonly log: Logger;

  constructor(private readonly h: MapSessionHost) {
    this.log = h.logger;
  }

  /** Map polls until the session ends ('stopped') or control no longer knows our key ('relogin'). */
  async run(sig: AbortSignal): Promise<MapSessionEnd> {
    let failures = 0;
    while (!sig.aborted) {
      const end = await this.stream(sig, () => (failures = 0));
      if (sig.aborted) return 'stopped';
      if (end.expired) {
        this.log.info('map: node key expired; logging in again');
        this.h.keyExpired();
        return 'relogin';
      }
      if (!end.dropReason && end.err !== undefined && isNodeNotFound(end.err)) {
        this.log.warn('map: control does not know this node key; registering again', { err: end.err });
        this.h.nodeUnknown();
        return 'relogin';
      }
      failures++;
      this.h.counters.mapFailures++;
      const delay = backoffDelay(failures, this.h.random);
      this.log.warn('map: stream ended; reconnecting', {
        reason: end.dropReason ?? (end.err === undefined ? 'server ended the stream' : undefined),
        err: end.dropReason ? undefined : end.err,
        attempt: failures,
        retryInMs: delay,
      });
      this.h.disconnected();
      if (!(await sleep(this.h.clock, delay, sig))) return 'stopped';
    }
    return 'stopped';
  }

  /** One Stream:true poll, from the request to its end (server, error, or dropped by us). */
  private async stream(sig: AbortSignal, onFirstNetmap: () => void): Promise<StreamEnd> {
    const h = this.h;
    const stream = new AbortController();
    const onSessionAbort = (): void => stream.abort();
    sig.addEventListener('abort', onSessionAbort, { once: true });
    h.netmap.startStream();
    h.counters.mapStreams++;
    const end: StreamEnd = { dropReason: undefined, expired: false, err: undefined };
    let gotFirst = false;
    let watchdog: Timer | undefined;
    // The expiry timer belongs to the stream that armed it: once that stream is gone its drop would
    // do nothing, and the next stream's first netmap arms a new one.
    let expiryTimer: Timer | undefined;
    const drop = (reason: string): void => {
      if (stream.signal.aborted) return;
      end.dropReason = reason;
      stream.abort();
    };
    const expire = (): void => {
      end.expired = true;
      drop('self node key expired');
    };
    const feed = (): void => {
      watchdog?.cancel();
      watchdog = h.clock.setTimeout(() => drop(`no map message for ${Math.round(h.watchdogMs / 1000)} s`), h.watchdogMs);
    };
    feed();
    const req = h.streamRequest();
    const onMessage = (raw: unknown): void => {
      if (stream.signal.aborted) return;
      feed();
      const p = parseMapResponse(raw);
      if (!p.ok) {
        h.counters.badMapMessages++;
        this.log.warn('map: rejected a message; dropping the stream, keeping the last good netmap', { reason: p.reason });
        return drop(`bad map message: ${p.reason}`);
      }
      let change;
      try {
        change = h.netmap.apply(p.value);
      } catch (e) {
        h.counters.badMapMessages++;
        const reason = e instanceof Error ? e.message : String(e);
        this.log.warn('map: message could not be applied; dropping the stream', { reason });
        return drop(`bad map message: ${reason}`);
      }
      if (p.value.PingRequest) this.answerControlPing(p.value.PingRequest, stream.signal);
      if (p.value.KeepAlive) return;
      if (!gotFirst) {
        gotFirst = true;
        onFirstNetmap();
        h.streamUp();
      }
      h.netmapChanged();
      if (change.selfChanged) {
        const left = selfKeyExpiresInMs(h.netmap, h.controlNow());
        if (left !== undefined && left <= 0) return expire();
        expiryTimer?.cancel();
        expiryTimer = undefined;
        if (left !== undefined && left < MAX_TIMER_MS) expiryTimer = h.clock.setTimeout(expire, left);
        // A later expiry is re-armed by the next self update.
      }
      h.statusChanged();
    };
    try {
      await h.client().mapStream(req, onMessage, { signal: stream.signal });
    } catch (e) {
      end.err = e;
    } finally {
      watchdog?.cancel();
      expiryTimer?.cancel();
      sig.removeEventListener('abort', onSessionAbort);
      h.streamDown();
    }
    return end;
  }

  /**
   * Control asks "are you there?" with a PingRequest. An empty Types means: send a HEAD to the URL
   * (tailscale ipnlocal handlePingRequest). Typed pings (disco/TSMP/ICMP/c2n) need the data plane
   * and are logged and skipped. Never awaited: a slow answer must not stall the map stream.
   */
  private answerControlPing(pr: { URL: string; URLIsNoise?: boolean | undefined; Types?: string | undefined }, signal: AbortSignal): void {
    if (pr.Types) {
      this.log.debug('map: control ping of a type we cannot answer yet', { types: pr.Types });
      return;
    }
    const client = this.h.client();
    if (!client.answerPing) return;
    this.h.counters.controlPings++;
    client.answerPing({ URL: pr.URL, URLIsNoise: pr.URLIsNoise }, { signal }).catch((e: unknown) => {
      this.log.warn('map: could not answer a control ping', { reason: e instanceof Error ? e.message : String(e) });
    });
  }
}
