import { BlockingTimeoutError, PlaylistClosedError, WaitAbortedError } from './ll-errors';
import { LlLivePosition } from './ll-playlist-state';
import { PlaylistWaiters, blockingTargetReached } from './playlist-waiters';

type State = 'pending' | 'resolved' | Error;

/** Records how a promise settled, readable synchronously after `flush()`. */
function track(promise: Promise<void>): { state: State } {
  const box: { state: State } = { state: 'pending' };
  promise.then(
    () => (box.state = 'resolved'),
    (error: Error) => (box.state = error),
  );
  return box;
}

/** Lets settled promises run their callbacks (fake timers do not touch microtasks). */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

const at = (lastCompleteMsn: number, lastPart?: [number, number], ended = false): LlLivePosition => ({
  mediaSequence: 0,
  lastCompleteMsn,
  lastPart: lastPart && { msn: lastPart[0], index: lastPart[1] },
  ended,
});

describe('blockingTargetReached', () => {
  it('follows RFC 8216bis 6.2.5.2, including a part index beyond the end of a complete segment', () => {
    // Segment 4 complete with parts 0..4; segment 5 in progress with parts 0..1.
    const position = at(4, [5, 1]);
    expect(blockingTargetReached({ msn: 4 }, position)).toBe(true);
    expect(blockingTargetReached({ msn: 5 }, position)).toBe(false); // 5 is not a complete segment yet
    expect(blockingTargetReached({ msn: 5, part: 1 }, position)).toBe(true);
    expect(blockingTargetReached({ msn: 5, part: 2 }, position)).toBe(false);
    expect(blockingTargetReached({ msn: 4, part: 9 }, position)).toBe(true); // = part 0 of 5, which exists
    // Segment 5 just completed with 2 parts, segment 6 has none yet: part 2 of 5 means part 0 of 6.
    const boundary = at(5, [5, 1]);
    expect(blockingTargetReached({ msn: 5 }, boundary)).toBe(true);
    expect(blockingTargetReached({ msn: 5, part: 1 }, boundary)).toBe(true);
    expect(blockingTargetReached({ msn: 5, part: 2 }, boundary)).toBe(false);
    expect(blockingTargetReached({ msn: 5, part: 2 }, at(5, [6, 0]))).toBe(true);
    expect(blockingTargetReached({ msn: 99, part: 99 }, at(5, [6, 0], true))).toBe(true); // ended: answer at once
  });
});

describe('PlaylistWaiters', () => {
  let position: LlLivePosition;
  let waiters: PlaylistWaiters;

  beforeEach(() => {
    jest.useFakeTimers();
    position = at(4, [5, 1]);
    waiters = new PlaylistWaiters(() => position, { timeoutMs: 3000 });
  });
  afterEach(() => {
    waiters.close();
    jest.useRealTimers();
  });

  it('answers at once what the playlist already holds', async () => {
    const done = track(waiters.wait({ msn: 5, part: 0 }));
    await flush();
    expect(done.state).toBe('resolved');
    expect(waiters.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('releases a part request when that part comes, and a segment request only when the segment completes', async () => {
    const part3 = track(waiters.wait({ msn: 5, part: 3 }));
    const segment5 = track(waiters.wait({ msn: 5 }));
    const beyond = track(waiters.wait({ msn: 5, part: 7 }));
    position = at(4, [5, 2]);
    waiters.notify();
    await flush();
    expect([part3.state, segment5.state, beyond.state]).toEqual(['pending', 'pending', 'pending']);
    position = at(4, [5, 3]);
    waiters.notify();
    await flush();
    expect([part3.state, segment5.state, beyond.state]).toEqual(['resolved', 'pending', 'pending']);
    // Segment 5 completes with 4 parts: part 7 of it now means part 0 of segment 6.
    position = at(5, [5, 3]);
    waiters.notify();
    await flush();
    expect([segment5.state, beyond.state]).toEqual(['resolved', 'pending']);
    position = at(5, [6, 0]);
    waiters.notify();
    await flush();
    expect(beyond.state).toBe('resolved');
    expect(waiters.pending).toBe(0);
  });

  it('fails a request blocked longer than the timeout with BlockingTimeoutError (503), on one timer', async () => {
    const first = track(waiters.wait({ msn: 6, part: 0 }));
    jest.advanceTimersByTime(1000);
    const second = track(waiters.wait({ msn: 6 }));
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(1999);
    await flush();
    expect(first.state).toBe('pending');
    jest.advanceTimersByTime(1);
    await flush();
    expect(first.state).toBeInstanceOf(BlockingTimeoutError);
    expect((first.state as BlockingTimeoutError).status).toBe(503);
    expect((first.state as Error).message).toBe('blocked 3000 ms for msn 6 part 0; the playlist is at msn 5 part 1');
    expect(second.state).toBe('pending');
    expect(jest.getTimerCount()).toBe(1); // re-armed for the second
    jest.advanceTimersByTime(1000);
    await flush();
    expect((second.state as Error).message).toBe('blocked 3000 ms for segment 6; the playlist is at msn 5 part 1');
    expect(waiters.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps waiting across a source restart: msns continue and the new run answers', async () => {
    const next = track(waiters.wait({ msn: 6, part: 0 }));
    // The run stops: segment 5 is completed with its 2 parts, nothing is in progress for a while.
    position = at(5, [5, 1]);
    waiters.notify();
    jest.advanceTimersByTime(2000);
    await flush();
    expect(next.state).toBe('pending');
    // The new run's first part (after a discontinuity) is part 0 of segment 6.
    position = at(5, [6, 0]);
    waiters.notify();
    await flush();
    expect(next.state).toBe('resolved');
  });

  it('answers everyone when the playlist ends, and fails everyone when it is closed', async () => {
    const a = track(waiters.wait({ msn: 9 }));
    position = { ...position, ended: true };
    waiters.notify();
    await flush();
    expect(a.state).toBe('resolved');

    position = at(4, [5, 1]);
    const b = track(waiters.wait({ msn: 6 }));
    const c = track(waiters.wait({ msn: 6, part: 2 }));
    waiters.close('stream studio-1 removed');
    await flush();
    expect(b.state).toBeInstanceOf(PlaylistClosedError);
    expect((c.state as PlaylistClosedError).message).toBe('stream studio-1 removed');
    expect((c.state as PlaylistClosedError).status).toBe(404);
    expect(waiters.closed).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    await expect(waiters.wait({ msn: 1 })).rejects.toBeInstanceOf(PlaylistClosedError);
    waiters.close(); // idempotent
  });

  it('drops a request whose client went away', async () => {
    const controller = new AbortController();
    const gone = track(waiters.wait({ msn: 7 }, controller.signal));
    const stays = track(waiters.wait({ msn: 7 }));
    controller.abort();
    await flush();
    expect(gone.state).toBeInstanceOf(WaitAbortedError);
    expect(stays.state).toBe('pending');
    expect(waiters.pending).toBe(1);
    await expect(waiters.wait({ msn: 7 }, controller.signal)).rejects.toBeInstanceOf(WaitAbortedError);
    position = at(7);
    waiters.notify();
    await flush();
    expect(stays.state).toBe('resolved');
  });

  it('holds thousands of waiters on one timer and releases each exactly when its part arrives', async () => {
    position = at(-1);
    const partsPerSegment = 5;
    const boxes: Array<{ msn: number; part?: number; box: { state: State } }> = [];
    for (let i = 0; i < 10_000; i++) {
      const msn = i % 4;
      const part = i % 3 === 0 ? undefined : (i * 7) % 6; // part 5 does not exist: it means part 0 of msn + 1
      boxes.push({ msn, part, box: track(waiters.wait({ msn, part })) });
    }
    // Aborted requests in the middle leave garbage in the heaps that must not disturb the order.
    const controllers = Array.from({ length: 3000 }, () => new AbortController());
    controllers.forEach((controller, i) => waiters.wait({ msn: i % 4, part: 1 }, controller.signal).catch(() => undefined));
    controllers.forEach((controller) => controller.abort());
    expect(waiters.pending).toBe(10_000);
    expect(jest.getTimerCount()).toBe(1);

    for (let msn = 0; msn < 5; msn++) {
      for (let index = 0; index < partsPerSegment; index++) {
        position = at(msn - 1, [msn, index]);
        waiters.notify();
        await flush();
        const wrong = boxes.filter(
          ({ msn: m, part, box }) => (box.state === 'resolved') !== blockingTargetReached({ msn: m, part }, position),
        );
        expect(wrong.map(({ msn: m, part, box }) => `msn ${m} part ${part}: ${String(box.state)}`)).toEqual([]);
      }
      position = at(msn, [msn, partsPerSegment - 1]);
      waiters.notify();
      await flush();
    }
    expect(waiters.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
