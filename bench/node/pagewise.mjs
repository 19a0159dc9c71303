// pagewise's npm package in Node 20: the package as built by `npm run build`
// (bindings/npm), imported from the repository.
import { Client } from '../../bindings/npm/index.js';
import { parseArgs, runPagewise } from './common.mjs';

try {
  const args = parseArgs(process.argv.slice(2));
  const out = await runPagewise(Client, args);
  console.log(JSON.stringify({ client: 'pagewise-node', scenario: args.scenario, ...out, ok: true }));
} catch (e) {
  console.error(`error: ${e?.stack ?? e}`);
  process.exit(1);
}
