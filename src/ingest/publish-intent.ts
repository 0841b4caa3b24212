import type { AppConfig } from '../config/app.config';
import type { PublisherIntent } from '../streams/streams.service';
import { assertStreamName } from '../streams/stream-name';
import { verifyPublishToken } from '../streams/publish-token';

/**
 * What a connecting publisher may do, from the name and token it presents (socket.io handshake
 * `auth: { stream, token }`, or a WHIP URL and Bearer token). Throws a ClientError naming what is
 * wrong: a bad name (BAD_REQUEST) or a token that does not verify for that name (UNAUTHORIZED).
 * Without a token the connection is still welcome (to watch); with PUBLISH_AUTH=token it cannot publish.
 */
export async function publishIntent(config: AppConfig, name: unknown, token: unknown): Promise<PublisherIntent> {
  if (name !== undefined) assertStreamName(name);
  const auth = config.streams;
  if (auth.publishAuth === 'off') return { name, authorized: true };
  if (token === undefined) return { name, authorized: false };
  await verifyPublishToken(token, auth.jwtSecret, name);
  return { name, authorized: name !== undefined };
}
