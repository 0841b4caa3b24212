import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * One Lua script run by its SHA1 (EVALSHA), sent whole (EVAL) only when Redis does not know it:
 * after a restart Redis's script cache is empty, and the first call re-loads it by itself.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(
    readonly name: string,
    private readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
