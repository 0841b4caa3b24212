import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { execFile } from 'node:child_process';
import { mkdir, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';

const run = promisify(execFile);
/** `ffmpeg -version` is spawned at most this often; the binary does not change under a running pod. */
const FFMPEG_CHECK_TTL_MS = 30_000;

/** Readiness of the HLS side: FFmpeg runs, and the HLS directory is writable with room to spare. */
@Injectable()
export class HlsHealthIndicator {
  private ffmpegChecked?: { at: number; ok: boolean; detail: string };
  private probes = 0;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async checkFfmpeg(key = 'ffmpeg') {
    const indicator = this.indicators.check(key);
    const cached = this.ffmpegChecked;
    if (!cached || Date.now() - cached.at > FFMPEG_CHECK_TTL_MS || !cached.ok) {
      try {
        const { stdout } = await run(this.config.ffmpeg.path, ['-hide_banner', '-version'], { timeout: 5000 });
        this.ffmpegChecked = { at: Date.now(), ok: true, detail: stdout.split('\n')[0] };
      } catch (error) {
        this.ffmpegChecked = { at: Date.now(), ok: false, detail: errorMessage(error) };
      }
    }
    const { ok, detail } = this.ffmpegChecked!;
    return ok ? indicator.up({ version: detail }) : indicator.down({ error: detail });
  }

  async checkDisk(key = 'disk') {
    const indicator = this.indicators.check(key);
    const dir = this.config.hls.dir;
    const floor = this.config.hls.minFreeBytes;
    try {
      await mkdir(dir, { recursive: true });
      // Unique per check: probes can overlap, and one must not delete another's file.
      const probe = join(dir, `.ready-${process.pid}-${++this.probes}`);
      await writeFile(probe, 'ok');
      await unlink(probe);
      const fs = await statfs(dir);
      const freeBytes = fs.bavail * fs.bsize;
      const details = { dir, freeMB: Math.floor(freeBytes / 2 ** 20), minFreeMB: Math.floor(floor / 2 ** 20) };
      return freeBytes >= floor ? indicator.up(details) : indicator.down({ ...details, error: 'free disk space below the floor' });
    } catch (error) {
      return indicator.down({ dir, error: errorMessage(error) });
    }
  }
}
