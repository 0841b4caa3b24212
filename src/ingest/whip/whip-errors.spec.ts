import {
  BadRequestError,
  LimitExceededError,
  NotFoundError,
  StreamInUseError,
  UnauthorizedError,
  UnavailableError,
} from '../../common/errors';
import { PublishTokenError } from '../../streams/publish-token';
import { StreamNameError } from '../../streams/stream-name';
import { InvalidOfferError, UnsupportedCodecError } from './errors';
import { toWhipHttpError } from './whip-errors';
import { WhipHttpError } from './whip-http';

describe('toWhipHttpError', () => {
  it.each([
    [new InvalidOfferError('no fingerprint'), 400, 'BAD_OFFER'],
    [new UnsupportedCodecError('no codec'), 422, 'UNSUPPORTED_CODEC'],
    [new StreamNameError('BAD_CHARACTER', 'bad name'), 400, 'BAD_REQUEST'],
    [new BadRequestError('bad'), 400, 'BAD_REQUEST'],
    [new PublishTokenError('EXPIRED', 'expired'), 401, 'UNAUTHORIZED'],
    [new PublishTokenError('WRONG_STREAM', 'another stream'), 403, 'FORBIDDEN'],
    [new UnauthorizedError('needs a token'), 401, 'UNAUTHORIZED'],
    [new StreamInUseError('in use'), 409, 'STREAM_IN_USE'],
    [new NotFoundError('gone'), 404, 'NOT_FOUND'],
    [new LimitExceededError('server full: 10 publishing peers (MAX_PEERS=10)'), 503, 'NO_CAPACITY'],
    [new UnavailableError('no mediasoup worker is running'), 503, 'NO_CAPACITY'],
    [new Error("no more available ports [protocol:udp, ip:'127.0.0.1', numAttempt:10]"), 503, 'NO_CAPACITY'],
  ])('%s → %i %s', (error, status, code) => {
    const answer = toWhipHttpError(error)!;
    expect(answer).toBeInstanceOf(WhipHttpError);
    expect([answer.status, answer.code]).toEqual([status, code]);
    if (status === 401 || status === 403) expect(answer.headers['WWW-Authenticate']).toMatch(/^Bearer realm="whip"/);
    if (status === 503) expect(answer.headers['Retry-After']).toBe('5');
  });

  it('leaves our own failures to the caller (500, logged)', () => {
    expect(toWhipHttpError(new Error('channel closed'))).toBeUndefined();
    expect(toWhipHttpError('a string')).toBeUndefined();
  });
});
