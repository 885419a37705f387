// How many workers the pool runs, as PHP-FPM's `pm`: static (a fixed count), dynamic (spares), ondemand.

/** The process manager and its numbers (FPM's pm, pm.max_children, pm.min/max_spare_servers, …). */
export type ProcessModel =
  | { readonly kind: 'static'; readonly workers: number }
  | {
      readonly kind: 'dynamic';
      /** pm.max_children */
      readonly maxWorkers: number;
      /** pm.min_spare_servers: fewer idle workers than this starts one more (one per tick). */
      readonly minSpare: number;
      /** pm.max_spare_servers: more idle workers than this stops one (one per tick). */
      readonly maxSpare: number;
    }
  | {
      readonly kind: 'ondemand';
      readonly maxWorkers: number;
      /** pm.process_idle_timeout: a worker idle this long is stopped. */
      readonly idleTimeoutMs: number;
    };

/** What the primary sees when it plans. */
export interface PoolLoad {
  /** Listening workers of the current code with no request in flight. */
  readonly idle: number;
  /** Workers of the current code, starting ones included. */
  readonly total: number;
  /** Connections waiting in the kernel's accept queue (TCP only; 0 where Linux does not tell). */
  readonly queued: number;
  /** Idle workers that have been idle longer than the ondemand idle timeout. */
  readonly longIdle: number;
  /** Whether `queued` can be known (TCP); without it ondemand keeps one worker to accept. */
  readonly seesQueue: boolean;
}

/** Workers started with the pool. */
export function initialWorkers(model: ProcessModel): number {
  switch (model.kind) {
    case 'static':
      return model.workers;
    case 'dynamic':
      // FPM's default pm.start_servers: min_spare + (max_spare - min_spare) / 2.
      return Math.min(
        model.maxWorkers,
        Math.max(1, Math.floor(model.minSpare + (model.maxSpare - model.minSpare) / 2)),
      );
    case 'ondemand':
      // One worker puts the socket into the listening state; it stops after the idle timeout like any other.
      return 1;
  }
}

/** Workers a crashed one must be replaced to keep (the rest is the planner's). */
export function minimumWorkers(model: ProcessModel, seesQueue: boolean): number {
  switch (model.kind) {
    case 'static':
      return model.workers;
    case 'dynamic':
      return Math.max(1, model.minSpare);
    case 'ondemand':
      return seesQueue ? 0 : 1;
  }
}

/** How many workers there should be now, one step from `load.total`; `reachedMax` when more were wanted. */
export function planWorkers(model: ProcessModel, load: PoolLoad): { target: number; reachedMax: boolean } {
  const { idle, total } = load;
  switch (model.kind) {
    case 'static':
      return { target: model.workers, reachedMax: false };
    case 'dynamic': {
      if (idle < model.minSpare) {
        if (total < model.maxWorkers) return { target: total + 1, reachedMax: false };
        return { target: total, reachedMax: true };
      }
      if (idle > model.maxSpare && total > 1) return { target: total - 1, reachedMax: false };
      return { target: Math.max(total, 1), reachedMax: false };
    }
    case 'ondemand': {
      const wanted = load.queued > 0 && idle === 0;
      if (wanted) {
        if (total < model.maxWorkers) return { target: total + 1, reachedMax: false };
        return { target: total, reachedMax: true };
      }
      const floor = load.seesQueue ? 0 : 1;
      // Never while connections wait: the idle worker is about to take one.
      if (load.longIdle > 0 && total > floor && load.queued === 0)
        return { target: total - 1, reachedMax: false };
      return { target: total, reachedMax: false };
    }
  }
}
