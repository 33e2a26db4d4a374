#!/usr/bin/env node
// The CLI (tailscale-style verbs). Compiled code lives in dist/; `npm install` builds it.
import '../dist/main/cli/main.js';
