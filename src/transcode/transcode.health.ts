import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';

const run = promisify(execFile);
/** `ffmpeg -version` is spawned at most this often; the binary does not change under a running pod. */
const FFMPEG_CHECK_TTL_MS = 30_000;

/** Readiness of transcoding: the FFmpeg binary runs. */
@Injectable()
export class TranscodeHealthIndicator {
  private ffmpegChecked?: { at: number; ok: boolean; detail: string };

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
}
