// Where a run's guests run, resolved once (execa's one options normaliser): for each CPU
// target the accelerator the probes chose, its backend record and every time limit as
// absolute numbers. The user's limits (flags, config), the defaults, the backend's pace
// and the host's load meet here, per backend, and nowhere else: guests, sessions and
// step runners downstream receive numbers.
import type { Backend } from './backend.js';
import type { BackendTable } from './backends.js';
import type { AccelChoice } from './choose.js';
import { ACCELS, type Accel } from '../model/accel.js';
import { DEFAULTS } from '../model/defaults.js';
import { limitsFor, snapshotStretch, type GivenLimits, type GuestLimits } from '../model/limits.js';

/** A CPU target placed: its backend and limits, or why no backend provides it. */
export type Placement = Placed | Extract<AccelChoice, { readonly accel: null }>;
/** A CPU target a backend provides. */
export type Placed = Extract<AccelChoice, { readonly accel: Accel }> & { readonly backend: Backend; readonly limits: GuestLimits };

export interface PlacementPolicy {
  /** The accelerator for a CPU target by name ("v3", "v3-fma"). */
  readonly choose: (target: string) => AccelChoice;
  /** The backend records of the run (the host's, or a distribution image's). */
  readonly backends: BackendTable;
  /** How much slower than idle the host is (model/limits.ts hostStretch). */
  readonly stretch: number;
  /** Limits the user gave (a flag, the config): used as given. */
  readonly given?: GivenLimits;
}

export class Placer {
  readonly #policy: PlacementPolicy;
  readonly #limits = new Map<Accel, GuestLimits>();

  constructor(policy: PlacementPolicy) {
    this.#policy = policy;
  }

  /** The same limits with another choice of accelerators (the targets a guest source found unusable, made skips). */
  choosing(choose: (target: string) => AccelChoice): Placer {
    return new Placer({ ...this.#policy, choose });
  }

  /** The same choice with another host stretch and limits (a compose guest's: its snapshot loads a whole compose). */
  with(policy: Partial<Omit<PlacementPolicy, 'choose' | 'backends'>>): Placer {
    return new Placer({ ...this.#policy, ...policy });
  }

  at(target: string): Placement {
    const choice = this.#policy.choose(target);
    return choice.accel === null ? choice : { ...choice, backend: this.backend(choice.accel), limits: this.limits(choice.accel) };
  }

  backend(accel: Accel): Backend {
    return this.#policy.backends[accel];
  }

  /** Every limit of a guest on `accel`'s backend: the one place a limit is scaled. */
  limits(accel: Accel): GuestLimits {
    let limits = this.#limits.get(accel);
    if (!limits) {
      const backend = this.backend(accel);
      limits = limitsFor(backend, this.#policy.stretch, { ...backend.given, ...this.#policy.given });
      this.#limits.set(accel, limits);
    }
    return limits;
  }

  /** The boot limit of a guest on each accelerator. */
  bootMs(): Readonly<Record<Accel, number>> {
    return Object.fromEntries(ACCELS.map((a) => [a, this.limits(a).bootMs])) as Record<Accel, number>;
  }

  /** A snapshot's boot before the first cell (model/limits.ts snapshotStretch). */
  snapshotBootMs(accel: Accel): number {
    return this.with({ stretch: snapshotStretch(this.#policy.stretch) }).limits(accel).bootMs;
  }

  /** A cell's limit where no backend runs it (it ends at once as a skip): the reference pace's (QEMU TCG). */
  unplacedCellMs(): number {
    return limitsFor(DEFAULTS.backends.tcg, this.#policy.stretch, this.#policy.given).cellMs;
  }
}
