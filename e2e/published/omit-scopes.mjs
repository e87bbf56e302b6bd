// The April 2026 signup client, rebuilt from a published @posthog/wizard:
// loaded with `node --import <this file> <wizard>/dist/bin.js …`, it removes
// `scopes` from the body of the account request
// (POST …/api/agentic/provisioning/account_requests) and changes nothing else.
//
// The provisioning module sends through axios's default instance, imported
// as an ES module. An ES module is one instance per resolved file, so this
// preload resolves `axios` the way the wizard's own files do (walking up
// from the wizard's entry point to the first node_modules/axios) and imports
// that same file, then adds a request interceptor to it. `require("axios")`
// would give the CommonJS build: another instance, which the wizard never
// uses.
//
// One line on stderr says the interceptor is installed and one more each
// time it removes the field, so the e2e driver can tell the variant took
// effect.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const MARKER = '[omit-scopes]';
const ACCOUNT_REQUESTS = /\/api\/agentic\/provisioning\/account_requests\/?$/;

function findAxios(entry) {
  let dir = path.dirname(fs.realpathSync(entry));
  for (;;) {
    const candidate = path.join(dir, 'node_modules', 'axios');
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${MARKER} no node_modules/axios above ${entry}`);
    dir = parent;
  }
}

// The file an `import "axios"` resolves to under Node: the `default`
// condition of the `.` export (nested under `default` for non-browsers).
function esmEntry(packageDir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  const root = manifest.exports?.['.'];
  let target = root;
  while (target && typeof target === 'object') target = target.import ?? target.default;
  return path.join(packageDir, typeof target === 'string' ? target : manifest.main ?? 'index.js');
}

function pathOf(url) {
  try {
    return new URL(url).pathname;
  } catch {
    return String(url ?? '');
  }
}

const entry = process.argv[1];
if (!entry) throw new Error(`${MARKER} no entry point to resolve axios from`);
const axiosFile = esmEntry(findAxios(entry));
const { default: axios } = await import(pathToFileURL(axiosFile).href);

axios.interceptors.request.use((config) => {
  const isAccountRequest =
    String(config.method ?? '').toLowerCase() === 'post' && ACCOUNT_REQUESTS.test(pathOf(config.url));
  if (isAccountRequest && config.data && typeof config.data === 'object' && 'scopes' in config.data) {
    const { scopes: _removed, ...rest } = config.data;
    config.data = rest;
    process.stderr.write(`${MARKER} removed scopes from the account request\n`);
  }
  return config;
});
process.stderr.write(`${MARKER} interceptor installed on ${axiosFile}\n`);
