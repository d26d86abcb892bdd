// gate --audit's auditor: the static audit of a package file, once per file for the whole
// run (cells at every level install the same fixtures), in one worker thread started on
// first use (the run's cores belong to its guests).
import { auditRpm } from './audit-rpm.js';
import { AuditPool } from './pool.js';
import type { PackageAudit } from './types.js';

export interface InstallAuditor {
  /** The static audit of an RPM file on the host. */
  audit(file: string): Promise<PackageAudit>;
}

export class PooledInstallAuditor implements InstallAuditor {
  readonly #audits = new Map<string, Promise<PackageAudit>>();
  #pool: AuditPool | undefined;

  constructor(
    readonly jobs = 1,
    readonly signal?: AbortSignal,
  ) {}

  audit(file: string): Promise<PackageAudit> {
    let audit = this.#audits.get(file);
    if (!audit) {
      this.#pool ??= new AuditPool(this.jobs);
      audit = auditRpm(file, { pool: this.#pool, input: file, inputKind: 'rpm', ...(this.signal ? { signal: this.signal } : {}) });
      this.#audits.set(file, audit);
    }
    return audit;
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }
}
