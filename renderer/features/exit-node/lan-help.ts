/** What "Allow LAN access" does and does not do (tailscale's ExitNodeAllowLANAccess). */
export const LAN_HELP = "Keeps YOUR local network reachable while using an exit node; it does not give access to the exit node's LAN.";
