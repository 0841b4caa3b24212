import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricSum, parsePrometheus } from './shared/prometheus';

/** A captured offer (src/ingest/whip/fixtures), as its client sent it. */
export function fixtureOffer(name: string): string {
  return readFileSync(join(__dirname, '..', '..', 'src', 'ingest', 'whip', 'fixtures', `${name}.sdp`), 'utf8');
}

export interface WhipAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON body of a refusal: `{ error, code }`. */
  json?: { error: string; code: string };
}

/** One WHIP request as a client makes it. */
export async function whipRequest(
  url: string,
  options: { method?: string; body?: string; contentType?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<WhipAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.contentType) headers['Content-Type'] = options.contentType;
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const response = await fetch(url, { method: options.method ?? 'POST', headers, body: options.body });
  const text = await response.text();
  let json: WhipAnswer['json'];
  if (response.headers.get('content-type')?.includes('json')) json = JSON.parse(text);
  return { status: response.status, headers: response.headers, text, json };
}

/** POST an offer to /whip/<name>. */
export function postOffer(
  appUrl: string,
  name: string,
  sdp: string,
  options: { token?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<WhipAnswer> {
  return whipRequest(`${appUrl}/whip/${name}`, {
    body: sdp,
    contentType: options.contentType ?? 'application/sdp',
    token: options.token,
    headers: options.headers,
  });
}

/** A few gauges of /metrics: what a refused request must leave as it was. */
export async function serverCounts(appUrl: string): Promise<{ peers: number; ffmpeg: number }> {
  const metrics = parsePrometheus(await (await fetch(`${appUrl}/metrics`)).text());
  return { peers: metricSum(metrics, 'webrtc_hls_peers') ?? NaN, ffmpeg: metricSum(metrics, 'webrtc_hls_ffmpeg_processes') ?? NaN };
}
