// The backend's own counters (`debug metrics` shows them as backend_<name>). One object, owned by
// LocalBackend and handed to the pieces that do the counting (register loop, map session, lite
// updates), so the numbers stay in one place however the work is split.
export interface BackendCounters {
  badMapMessages: number;
  /** PingRequests from control answered with a HEAD. */
  controlPings: number;
  mapStreams: number;
  mapFailures: number;
  registerFailures: number;
  liteUpdates: number;
}

export function newBackendCounters(): BackendCounters {
  return { badMapMessages: 0, controlPings: 0, mapStreams: 0, mapFailures: 0, registerFailures: 0, liteUpdates: 0 };
}
