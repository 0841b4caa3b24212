import { BlockedRequestLimiter } from './blocked-request-limiter';
import { TooManyBlockedRequestsError } from './ll-errors';

describe('BlockedRequestLimiter', () => {
  it('lets each client hold up to its limit, refuses the next with 429, and frees slots on release', () => {
    const limiter = new BlockedRequestLimiter({ perClient: 2 });
    const a1 = limiter.acquire('a');
    limiter.acquire('a');
    expect(() => limiter.acquire('a')).toThrow(TooManyBlockedRequestsError);
    expect(() => limiter.acquire('a')).toThrow('this client already holds 2 blocked playlist requests (limit 2)');
    limiter.acquire('b'); // another client is not affected
    expect(limiter.count('a')).toBe(2);
    a1();
    a1(); // a second release changes nothing
    expect(limiter.count('a')).toBe(1);
    expect(limiter.total).toBe(2);
    limiter.acquire('a');
    try {
      limiter.acquire('a');
    } catch (error) {
      expect((error as TooManyBlockedRequestsError).status).toBe(429);
    }
  });

  it('caps everyone together when a total is set', () => {
    const limiter = new BlockedRequestLimiter({ perClient: 5, total: 3 });
    const releases = ['a', 'b', 'c'].map((client) => limiter.acquire(client));
    expect(() => limiter.acquire('d')).toThrow('the server already holds 3 blocked playlist requests (limit 3)');
    releases[1]();
    expect(() => limiter.acquire('d')).not.toThrow();
  });

  it('forgets clients that hold nothing, so the map does not grow with every address', () => {
    const limiter = new BlockedRequestLimiter({ perClient: 1 });
    for (let i = 0; i < 10_000; i++) limiter.acquire(`10.0.${i >> 8}.${i & 255}`)();
    expect(limiter.total).toBe(0);
    expect((limiter as unknown as { counts: Map<string, number> }).counts.size).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new BlockedRequestLimiter({ perClient: 0 })).toThrow(TypeError);
    expect(() => new BlockedRequestLimiter({ perClient: 1.5 })).toThrow(TypeError);
  });
});
