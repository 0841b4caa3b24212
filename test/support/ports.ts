/**
 * Port blocks of their own for each server a test starts (WebRtcServer, RTC and FFmpeg ranges),
 * between the service's defaults (20000–23999) and Linux's ephemeral range (32768+), so a test does
 * not collide with a server started by hand or by another test process.
 */
export function randomPortEnv(): Record<string, string> {
  const base = 24000 + Math.floor(Math.random() * 17) * 500;
  return {
    WEBRTC_SERVER_PORT: String(base),
    RTC_MIN_PORT: String(base + 10),
    RTC_MAX_PORT: String(base + 209),
    FFMPEG_MIN_PORT: String(base + 210),
    FFMPEG_MAX_PORT: String(base + 409),
  };
}
