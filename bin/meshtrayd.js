#!/usr/bin/env node
// The headless engine host (tailscaled-style flags). Compiled code lives in dist/; `npm install` builds it.
import '../dist/main/daemon/main.js';
