// Registers hooks.mjs (plain JS, so it loads before any TypeScript loader). The fakes' folder and
// file extension come from the environment: the TypeScript sources under tsx, dist/ when built.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register('./hooks.mjs', import.meta.url, { data: { dir: pathToFileURL(process.env.FAKE_ELECTRON_DIR + '/').href, ext: process.env.FAKE_ELECTRON_EXT } });
