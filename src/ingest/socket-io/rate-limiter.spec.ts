import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('allows a burst, refuses past it, and refills over time', () => {
    const limiter = new RateLimiter(150, 30, 0);
    for (let i = 0; i < 150; i++) expect(limiter.take(0)).toBe(true);
    expect(limiter.take(0)).toBe(false);
    expect(limiter.take(100)).toBe(true); // 3 tokens back after 100 ms
    expect(limiter.take(100)).toBe(true);
    expect(limiter.take(100)).toBe(true);
    expect(limiter.take(100)).toBe(false);
  });

  it('lets a viewer consume 40 producers at once (80 requests plus set-up)', () => {
    const limiter = new RateLimiter();
    const results = Array.from({ length: 90 }, () => limiter.take());
    expect(results.every(Boolean)).toBe(true);
  });
});
