// The node keys of one login (tailscale persist.Persist: PrivateNodeKey, OldPrivateNodeKey, the
// user) and their life: a key being tried is kept apart until control accepts it, only accepted
// keys are persisted, a rotation keeps the previous key to send as OldNodeKey. Plain data plus the
// profile store; which state the node is in and what is announced stays with LocalBackend.
import { PrivateKey } from '../keys/keys.js';
import type { RegisterResponse } from '../control/messages.js';
import type { Logger, Random, StateStore } from '../ports/ports.js';
import { loadProfile, saveProfile, type Profile } from './profile.js';

type NodeKey = PrivateKey<'node'>;

export class LoginKeys {
  /** The registered node key (persisted with the login). */
  private current: NodeKey | undefined;
  /** The key we rotated away from; sent as OldNodeKey. */
  private old: NodeKey | undefined;
  /** A key being registered (interactive login, rotation); persisted only once control accepts it. */
  private trying: NodeKey | undefined;
  private meta: Pick<Profile, 'LoginName' | 'UserID'> = {};

  constructor(
    private readonly store: StateStore,
    private readonly random: Random,
    private readonly log: Logger,
  ) {}

  /** The accepted node key, if there is a login. */
  get nodeKey(): NodeKey | undefined {
    return this.current;
  }

  get oldNodeKey(): NodeKey | undefined {
    return this.old;
  }

  get loginName(): string | undefined {
    return this.meta.LoginName;
  }

  /** Reads the stored login; a malformed one is logged (never echoed) and treated as none. */
  async load(): Promise<void> {
    const profile = await loadProfile(this.store, this.log);
    if (!profile) return;
    try {
      this.current = PrivateKey.parse('node', profile.PrivateNodeKey);
      this.old = profile.OldPrivateNodeKey ? PrivateKey.parse('node', profile.OldPrivateNodeKey) : undefined;
      this.meta = { LoginName: profile.LoginName, UserID: profile.UserID };
    } catch {
      this.log.error('state: stored node key is malformed; a new login is needed');
    }
  }

  /** The key to register: the one being tried, else the login's, else a new one (now being tried). */
  toTry(): NodeKey {
    return this.trying ?? this.current ?? (this.trying = PrivateKey.generate('node', this.random));
  }

  /** A new key to try; the current one (if any) becomes OldNodeKey so control can move the node. */
  rotate(why: string): void {
    this.old = this.current ?? this.old;
    this.trying = PrivateKey.generate('node', this.random);
    this.log.info('backend: new node key', { why, old: this.old?.public.toString() ?? null, new: this.trying.public.toString() });
  }

  /** Stops trying a key control refused (the next attempt starts from the login's key again). */
  dropTrying(): void {
    this.trying = undefined;
  }

  /** Control accepted `key`: it is the login's key now, stored with the user control named. */
  async accept(key: NodeKey, resp: RegisterResponse, controlURL: string): Promise<void> {
    this.current = key;
    this.trying = undefined;
    if (resp.Login?.LoginName) this.meta.LoginName = resp.Login.LoginName;
    if (resp.User?.ID !== undefined) this.meta.UserID = resp.User.ID;
    const p: Profile = { ControlURL: controlURL, PrivateNodeKey: key.toSecretText(), ...this.meta };
    if (this.old) p.OldPrivateNodeKey = this.old.toSecretText();
    await saveProfile(this.store, p);
  }

  /** Logout or a new control server: no keys, nothing stored. */
  async forget(): Promise<void> {
    this.current = undefined;
    this.old = undefined;
    this.trying = undefined;
    this.meta = {};
    await saveProfile(this.store, undefined);
  }
}
