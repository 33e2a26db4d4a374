// The capability version ("capver") we claim. It goes into GET /key?v=, the Noise initiation
// header and prologue, RegisterRequest.Version and MapRequest.Version (control.md §5).
// 142 = Tailscale v1.102.x (tailcfg/tailcfg.go CurrentCapabilityVersion at v1.102.3), the newest
// stable release we know; Headscale v0.29.2 accepts anything >= 113 and has no ceiling
// (hscontrol/capver/capver_generated.go MinSupportedCapabilityVersion).
export const CURRENT_CAPABILITY_VERSION = 142;

/** Headscale v0.29.2 refuses clients below this (closes the Noise connection after the 101, HTTP 400 on register/map). */
export const HEADSCALE_MIN_CAPABILITY_VERSION = 113;
