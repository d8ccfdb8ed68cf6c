import { createTemplate, runId } from './template.js';

await createTemplate(runId(process.ppid));
