// The worker thread: audits the files the pool sends it, one at a time.
import { parentPort } from 'node:worker_threads';
import { auditFile } from './audit-file.js';
import type { WorkerReply, WorkerRequest } from './pool.js';

if (!parentPort) throw new Error('harness/audit/worker.js runs as a worker thread of the audit pool');
const port = parentPort;
port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { id: request.id, result: auditFile(request.file, request.shownAs) };
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  port.postMessage(reply);
});
