import { chromium, Browser } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The flags that work on these machines (offline, as root, fake devices); the bench uses them too. */
export const CHROMIUM_FLAGS: string[] = JSON.parse(readFileSync(join(__dirname, 'chromium-flags.json'), 'utf8'));

/** Debian's Chromium with the flags that work on these machines (offline, as root, fake devices). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      ...CHROMIUM_FLAGS,
      // Players in tests sample their own progress on timers; a page Chromium deems hidden must not slow them.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      ...extraArgs,
    ],
  });
}
