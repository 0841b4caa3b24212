import type { IceCandidate, IceParameters } from 'mediasoup/node/lib/WebRtcTransport';
import { WhipHttpError } from './whip-http';

/** What a trickle-ice-sdpfrag (RFC 8840 §9, RFC 9725 §4.3) carries that we look at. */
export interface SdpFragment {
  /** The client's ICE credentials, when the fragment names them (always in a restart). */
  ice?: { usernameFragment: string; password: string };
  candidates: Array<{ mid?: string; candidate: string }>;
  endOfCandidates: boolean;
}

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …` (RFC 8839 §5.1). */
const CANDIDATE = /^candidate:[A-Za-z0-9+/]{1,32} \d{1,3} [A-Za-z]+ \d{1,10} \S+ \d{1,5} typ [a-z]+( .*)?$/;

const bad = (message: string) => new WhipHttpError(400, 'BAD_REQUEST', `the trickle-ice-sdpfrag ${message}`);

/**
 * Parses a PATCH body. Every line must be an SDP line (`x=…`); candidates are checked against the
 * grammar but not used: the server is ICE-lite and learns the client's addresses from its checks.
 */
export function parseSdpFragment(body: string): SdpFragment {
  const lines = body.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw bad('is empty');
  const fragment: SdpFragment = { candidates: [], endOfCandidates: false };
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let mid: string | undefined;
  for (const [index, line] of lines.entries()) {
    if (!/^[a-z]=/.test(line)) throw bad(`has a line that is not SDP (line ${index + 1}: ${JSON.stringify(line.slice(0, 60))})`);
    if (line.startsWith('m=')) mid = undefined;
    else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (line.startsWith('a=ice-ufrag:')) ufrag = line.slice(12).trim();
    else if (line.startsWith('a=ice-pwd:')) pwd = line.slice(10).trim();
    else if (line.startsWith('a=candidate:')) {
      const candidate = line.slice(2).trim();
      if (!CANDIDATE.test(candidate)) throw bad(`has a malformed candidate (line ${index + 1}: ${JSON.stringify(line.slice(0, 80))})`);
      fragment.candidates.push({ mid, candidate });
    } else if (line.trim() === 'a=end-of-candidates') fragment.endOfCandidates = true;
  }
  if ((ufrag === undefined) !== (pwd === undefined) || ufrag === '' || pwd === '') {
    throw bad('names only one of a=ice-ufrag and a=ice-pwd (both, or neither)');
  }
  if (ufrag !== undefined && pwd !== undefined) fragment.ice = { usernameFragment: ufrag, password: pwd };
  return fragment;
}

/**
 * The 200 answer to an ICE restart (RFC 9725 §4.3.2): the server's new credentials and its
 * candidates, on the BUNDLE's first m-section (the only one a max-bundle client gathers on).
 */
export function restartAnswerFragment(ice: IceParameters, candidates: IceCandidate[], media: { kind: string; mid: string }): string {
  const lines = [
    'a=ice-lite',
    `a=ice-ufrag:${ice.usernameFragment}`,
    `a=ice-pwd:${ice.password}`,
    `m=${media.kind} 9 UDP/TLS/RTP/SAVPF 0`,
    `a=mid:${media.mid}`,
    ...candidates.map(
      (c) =>
        `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type ?? 'host'}` +
        (c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : ''),
    ),
    'a=end-of-candidates',
  ];
  return lines.join('\r\n') + '\r\n';
}
