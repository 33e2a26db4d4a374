// Runs the Linux router inside a namespace (argv[2] = state file), so the test can SIGKILL it
// mid-life and check that the next start repairs what it left.
import { LinuxRouter } from '../../../main/engine/router/linux.js';
import { fileRouterState, nodeCommandRunner } from '../../../main/engine/router/node-runner.js';
import type { RouterConfig } from '../../../main/engine/router/router.js';
import { serveWorker } from './support.js';

const router = new LinuxRouter({ runner: nodeCommandRunner(), state: fileRouterState(process.argv[2]!), ipv6: true });
serveWorker({
  set: async (a) => {
    await router.set(a['cfg'] as RouterConfig);
    return true;
  },
  restore: async () => {
    await router.restore();
    return true;
  },
});
