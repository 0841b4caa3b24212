import { parse } from 'sdp-transform';
import { parseSdpFragment, restartAnswerFragment } from './sdp-fragment';

// What whip-whep's WHIPClient.patch() sends (trickle), and what a GStreamer-style client sends per candidate.
const WHIP_WHEP_TRICKLE =
  'a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n' +
  'a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n' +
  'a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n' +
  'a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n';
const END_OF_CANDIDATES =
  'a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=end-of-candidates\r\n';
const GSTREAMER = 'm=audio 9 UDP/TLS/RTP/SAVPF 0\na=mid:audio0\na=candidate:1 1 UDP 2015363327 10.0.0.5 45923 typ host\n';

describe('trickle-ice-sdpfrag', () => {
  it('reads credentials, candidates per mid and end-of-candidates', () => {
    const fragment = parseSdpFragment(WHIP_WHEP_TRICKLE);
    expect(fragment.ice).toEqual({ usernameFragment: 'EsAw', password: 'P2uYro0UCOQ4zxjKXaWCBui1' });
    expect(fragment.candidates.map((c) => [c.mid, c.candidate.split(' ')[4]])).toEqual([
      ['0', '192.0.2.1'],
      ['0', '198.51.100.2'],
      ['0', '192.0.2.1'],
    ]);
    expect(fragment.endOfCandidates).toBe(false);
    expect(parseSdpFragment(END_OF_CANDIDATES)).toMatchObject({ candidates: [], endOfCandidates: true });
    const gstreamer = parseSdpFragment(GSTREAMER);
    expect(gstreamer.ice).toBeUndefined();
    expect(gstreamer.candidates).toEqual([{ mid: 'audio0', candidate: 'candidate:1 1 UDP 2015363327 10.0.0.5 45923 typ host' }]);
  });

  it.each([
    ['empty', '\r\n', /is empty/],
    ['not SDP', 'hello world', /has a line that is not SDP \(line 1: "hello world"\)/],
    ['JSON (whip-whep mute())', '{"audio":true}', /not SDP/],
    ['a malformed candidate', 'a=mid:0\r\na=candidate:1 1 udp\r\n', /malformed candidate \(line 2/],
    ['ufrag without pwd', 'a=ice-ufrag:abcd\r\n', /only one of a=ice-ufrag and a=ice-pwd/],
    ['an empty pwd', 'a=ice-ufrag:abcd\r\na=ice-pwd:\r\n', /only one of/],
  ])('refuses %s with 400', (_what, body, message) => {
    expect(() => parseSdpFragment(body)).toThrow(
      expect.objectContaining({ status: 400, code: 'BAD_REQUEST', message: expect.stringMatching(message) }),
    );
  });

  it('answers an ICE restart with our new credentials and candidates on the first m-section', () => {
    const text = restartAnswerFragment(
      { usernameFragment: 'newufrag', password: 'newpassword', iceLite: true },
      [
        {
          foundation: 'udpcandidate',
          priority: 1076302079,
          ip: '127.0.0.1',
          protocol: 'udp',
          port: 24000,
          type: 'host',
          tcpType: undefined,
        },
        {
          foundation: 'tcpcandidate',
          priority: 1076276479,
          ip: '127.0.0.1',
          protocol: 'tcp',
          port: 24000,
          type: 'host',
          tcpType: 'passive',
        },
      ],
      { kind: 'audio', mid: '0' },
    );
    // whip-whep reads these with /a=ice-ufrag:(.*)\r\n/ and /(a=candidate:.*\r\n)/.
    expect(/a=ice-ufrag:(.*)\r\n/.exec(text)?.[1]).toBe('newufrag');
    expect(/a=ice-pwd:(.*)\r\n/.exec(text)?.[1]).toBe('newpassword');
    const parsed = parse(`v=0\r\n${text}`);
    expect(parsed.media[0].candidates).toEqual([
      expect.objectContaining({ transport: 'udp', ip: '127.0.0.1', port: 24000, type: 'host' }),
      expect.objectContaining({ transport: 'tcp', port: 24000, tcptype: 'passive' }),
    ]);
    expect(parseSdpFragment(text)).toMatchObject({ ice: { usernameFragment: 'newufrag' }, endOfCandidates: true });
  });
});
