import { dropTemplate, runId } from './template.js';

await dropTemplate(runId(process.ppid));
