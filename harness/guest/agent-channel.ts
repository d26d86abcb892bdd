// What AgentGuest needs of a command channel: levelgate's own agent (agent-client.ts)
// satisfies it, and so does an image's qemu-guest-agent (qga-client.ts).
import type { AgentExecHooks, AgentExecReply } from './agent-client.js';
import type { ExecRequest } from './agent-protocol.js';

export interface AgentChannel {
  /** What answered: the agent's banner, once it is ready. */
  readonly banner: string | undefined;
  /** Resolves with the banner once the channel takes commands. */
  ready(): Promise<string>;
  /** Runs one command; calls are served in order, one at a time. */
  exec(request: ExecRequest, hooks?: AgentExecHooks): Promise<AgentExecReply>;
  /** Kills the running command (its process group); its reply then says `killed`. */
  kill(): void;
  /** Asks the guest to sync its disks and power off; resolves when that is acknowledged. */
  powerOff(): Promise<void>;
  /** Wakes a guest restored from a snapshot (clock, entropy) and resolves with its /proc/cpuinfo. */
  thaw(): Promise<string>;
  /**
   * Gives a cold-booted guest's kernel entropy from the host, where the channel can
   * (levelgate's agent; an image's own init seeds its own).
   */
  seed?(): Promise<void>;
  /** Ends every wait with this error (the guest died, or teardown began). */
  fail(error: Error): void;
  close(): void;
}
