import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { mkdir, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';

/** Readiness of packaging: the HLS directory is writable, with room to spare. */
@Injectable()
export class PackagingHealthIndicator {
  private probes = 0;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly indicators: HealthIndicatorService,
  ) {}

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
