/**
 * STUN/TURN server URIs as WHIP announces them to its clients (RFC 9725 §4.6: one
 * `Link: <uri>; rel="ice-server"` header each). Checked at start-up: a URI or credential that
 * cannot be written into a Link header must stop the service, not break every WHIP answer.
 */

/** RFC 7064 (stun/stuns) and RFC 7065 (turn/turns): scheme, host (name, IPv4 or [IPv6]), port, TURN transport. */
const HOST = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`;
const PORT = String.raw`(:\d{1,5})?`;
const STUN_URI = new RegExp(`^stuns?:${HOST}${PORT}$`);
const TURN_URI = new RegExp(`^turns?:${HOST}${PORT}(\\?transport=(udp|tcp))?$`);

export type IceScheme = 'stun' | 'turn';

/** The URIs of a comma-separated list, and what is wrong with each bad one. */
export function parseIceUrls(value: string, scheme: IceScheme): { urls: string[]; problems: string[] } {
  const urls = value
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  const pattern = scheme === 'stun' ? STUN_URI : TURN_URI;
  const example = scheme === 'stun' ? 'stun:stun.example.net:3478' : 'turn:turn.example.net:3478?transport=udp';
  const problems = urls
    .filter((url) => !pattern.test(url) || !validPort(url))
    .map((url) => `${JSON.stringify(url)} is not a ${scheme}:/${scheme}s: URI (e.g. ${example})`);
  return { urls, problems };
}

/** Whether a credential can be sent as a Link header parameter. */
export function isQuotable(value: string): boolean {
  // A Link header parameter is a quoted-string: no quote, backslash or control character.
  return ![...value].some((c) => c === '"' || c === '\\' || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

function validPort(url: string): boolean {
  const port = /:(\d{1,5})(\?|$)/.exec(url.replace(/^\w+:/, '').replace(/^\[[^\]]*\]/, ''))?.[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}
