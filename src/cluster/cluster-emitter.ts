import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import { ClusterEvents, ClusterListener } from './cluster.types';

type Listener = (...args: unknown[]) => void;

/**
 * The local events of a cluster node, typed by ClusterEvents. A listener's throw is logged, not
 * propagated: it must not break the heartbeat or the subscriber that emitted.
 */
export class ClusterEmitter {
  private readonly listeners = new Map<keyof ClusterEvents, Set<Listener>>();

  constructor(private readonly logger: Logger) {}

  /** Returns the function that removes the listener. */
  on<K extends keyof ClusterEvents>(name: K, listener: ClusterListener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const stored = listener as unknown as Listener;
    set.add(stored);
    return () => void set.delete(stored);
  }

  emit<K extends keyof ClusterEvents>(name: K, ...args: ClusterEvents[K]): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        this.logger.error(`a '${name}' listener threw: ${errorMessage(error)}`);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
