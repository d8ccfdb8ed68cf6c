import { findLeakedSecrets, scanSummary } from './secret-scan.js';
import { dropTemplate, runId } from './template.js';

const run = runId(process.ppid);
const leaks = findLeakedSecrets(run);
const { secrets, logBytes } = scanSummary(run);
await dropTemplate(run);
if (leaks.length > 0) {
  for (const { secret, file } of leaks) console.error(`secret ${secret.slice(0, 6)}… found in test log ${file}`);
  console.error(`log scan: ${leaks.length} secret(s) leaked into the logs`);
  process.exit(1);
}
console.error(`log scan: none of ${secrets} secrets found in ${logBytes} bytes of logs`);
