// Registration with control (control.md §6, tailscale control/controlclient/auto.go authRoutine +
// direct.go doLogin): one RegisterRequest after another until control accepts a node key, with
// backoff on failures, the interactive AuthURL flow (publish the URL, then a followup long-poll with
// the same key), and a new node key when control calls ours expired. The loop only decides what to
// send next; every change of login state goes through the RegisterHost, i.e. LocalBackend, which
// owns that state and publishes it.
import type { PrivateKey } from '../keys/keys.js';
import type { Clock, Logger, Random } from '../ports/ports.js';
import { CURRENT_CAPABILITY_VERSION } from '../control/capver.js';
import { LOGOUT_EXPIRY, ZERO_TIME, type Hostinfo, type RegisterRequest, type RegisterResponse } from '../control/messages.js';
import { backoffDelay, sleep } from './backoff.js';
import type { ControlClientPort } from './control-port.js';
import type { BackendCounters } from './counters.js';

/** How long a logout may wait for control before the login is forgotten locally anyway. */
export const LOGOUT_TIMEOUT_MS = 10_000;

export interface RegisterHost {
  clock: Clock;
  random: Random;
  logger: Logger;
  counters: BackendCounters;
  client(): ControlClientPort;
  hostinfo(): Hostinfo;
  /** The key to register: the one being tried, else the login's, else a new one (now being tried). */
  keyToTry(): PrivateKey<'node'>;
  /** The key rotated away from, sent as OldNodeKey so control moves the node to the new key. */
  oldKey(): PrivateKey<'node'> | undefined;
  /** Before every attempt: the state may have moved on (NeedsLogin → Starting). */
  attempting(): void;
  /** Whether control answered at all (the "not connected" health line). */
  reachable(ok: boolean): void;
  /** Control refused the login with this message; `final`: a refused pre-auth key, the user must act. */
  refused(error: string, final: boolean): void;
  /** Control says the node key is expired: make a new one (the old one becomes OldNodeKey). */
  keyExpired(): void;
  /** Interactive login: the user must open this URL. */
  needsBrowser(url: string): void;
  /** Control accepted `key`: it becomes (and is persisted as) the login's key. */
  accepted(key: PrivateKey<'node'>, resp: RegisterResponse): Promise<void>;
  /** …and the session still wants it: the node is logged in. */
  loggedIn(key: PrivateKey<'node'>): void;
}

/**
 * Registers until logged in (true) or the session ends / the login cannot succeed (false). A
 * pre-auth key rides on the first request only: a followup long-poll never carries it again.
 */
export async function registerUntilLoggedIn(h: RegisterHost, sig: AbortSignal, authKey: string | undefined): Promise<boolean> {
  let failures = 0;
  let rotated = false;
  let followup = '';
  const backOff = (): Promise<boolean> => sleep(h.clock, backoffDelay(++failures, h.random), sig);
  while (!sig.aborted) {
    const key = h.keyToTry();
    const req: RegisterRequest = {
      Version: CURRENT_CAPABILITY_VERSION,
      NodeKey: key.public.toString(),
      Expiry: ZERO_TIME,
      Followup: followup,
      Hostinfo: h.hostinfo(),
    };
    const old = h.oldKey();
    if (old && old !== key) req.OldNodeKey = old.public.toString();
    if (authKey && !followup) req.Auth = { AuthKey: authKey };
    h.attempting();
    let resp: RegisterResponse;
    try {
      resp = await h.client().register(req, { signal: sig });
    } catch (e) {
      if (sig.aborted) return false;
      failures++;
      h.counters.registerFailures++;
      const delay = backoffDelay(failures, h.random);
      h.logger.warn('backend: register failed; retrying', { err: e, attempt: failures, retryInMs: delay });
      h.reachable(false);
      if (!(await sleep(h.clock, delay, sig))) return false;
      continue;
    }
    h.reachable(true);
    if (resp.Error) {
      h.counters.registerFailures++;
      h.logger.warn('backend: control refused the login', { error: resp.Error });
      // A refused pre-auth key will not get better by retrying; the user must act.
      h.refused(resp.Error, authKey !== undefined && authKey !== '');
      if (authKey) return false;
      if (!(await backOff())) return false;
      continue;
    }
    if (resp.NodeKeyExpired) {
      if (rotated) {
        h.logger.warn('backend: control says the new node key is expired too; backing off');
        if (!(await backOff())) return false;
      }
      h.keyExpired();
      rotated = true;
      followup = '';
      continue;
    }
    if (resp.AuthURL) {
      // The same URL again: back off before following up (tailscale auto.go does the same).
      if (resp.AuthURL === followup && !(await backOff())) return false;
      followup = resp.AuthURL;
      h.needsBrowser(resp.AuthURL);
      continue;
    }
    // Success: the key we tried is now ours.
    await h.accepted(key, resp);
    if (sig.aborted) return false;
    h.loggedIn(key);
    return true;
  }
  return false;
}

/**
 * Tells control this node logged out (a RegisterRequest whose Expiry is in the past, control.md
 * §6.6). Best effort and bounded: a dead server must not keep the user from logging out locally.
 */
export async function logoutAtControl(
  o: { client(): ControlClientPort; nodeKey: PrivateKey<'node'>; hostinfo(): Hostinfo; clock: Clock; logger: Logger },
): Promise<void> {
  const ac = new AbortController();
  const t = o.clock.setTimeout(() => ac.abort(), LOGOUT_TIMEOUT_MS);
  try {
    // Inside the try: even a client that cannot be made must not stop the local logout.
    const resp = await o.client().register(
      { Version: CURRENT_CAPABILITY_VERSION, NodeKey: o.nodeKey.public.toString(), Expiry: LOGOUT_EXPIRY, Followup: '', Hostinfo: o.hostinfo() },
      { signal: ac.signal },
    );
    if (resp.Error) o.logger.warn('backend: control refused logout', { error: resp.Error });
    else o.logger.info('backend: logged out at control');
  } catch (e) {
    o.logger.warn('backend: logout request failed; forgetting the login locally anyway', { err: e });
  } finally {
    t.cancel();
  }
}
