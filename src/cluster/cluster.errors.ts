import { UnavailableError } from '../common/errors';

/** A cluster-wide read while Redis is unreachable: the caller falls back to what this node knows. */
export class ClusterUnavailableError extends UnavailableError {
  constructor(reason: string) {
    super(`cluster registry unavailable: ${reason}`);
    this.name = 'ClusterUnavailableError';
  }
}
