// The peer of `just bench`: the npm `oauth2-mock-server` on loopback with
// one RS256 key, printing the same `listening on http://…` line as our
// programs so the driver starts and times it the same way.
//
// Usage: node bench/peer.mjs <node_modules dir> [port]
// (`just bench` installs the package into target/bench/peer, never into
// the repository.)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, port = '0'] = process.argv.slice(2);
if (!modules) {
  console.error('usage: node peer.mjs <node_modules dir> [port]');
  process.exit(2);
}
const entry = join(modules, 'oauth2-mock-server', 'dist', 'index.mjs');
const { OAuth2Server } = await import(pathToFileURL(entry).href);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(Number(port), '127.0.0.1');
console.log(`listening on http://127.0.0.1:${server.address().port}`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
