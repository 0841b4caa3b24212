import { buildSync } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';

type PageName = 'harness' | 'player' | 'whip';
let bundles: Record<PageName, string> | undefined;

/** Bundles the browser-side test helpers once per test process. */
function bundle(): Record<PageName, string> {
  if (!bundles) {
    const build = (file: string) =>
      buildSync({
        entryPoints: [join(__dirname, '..', 'browser', file)],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        logLevel: 'silent',
      }).outputFiles[0].text;
    bundles = { harness: build('harness.ts'), player: build('player.ts'), whip: build('whip-publisher.ts') };
  }
  return bundles;
}

/**
 * Opens a page on the app's own origin (getUserMedia needs a secure origin such as 127.0.0.1, and
 * same-origin avoids CORS) with the helper script, served through request interception.
 */
export async function openTestPage(browser: Browser, appUrl: string, which: PageName): Promise<Page> {
  const page = await browser.newPage();
  const path = `/__test/${which}.html`;
  await page.route(`${appUrl}${path}`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><body><script>${bundle()[which].replace(/<\/script>/g, '<\\/script>')}</script></body></html>`,
    }),
  );
  page.on('pageerror', (error) => console.warn(`[${which} page] ${error.message}`));
  await page.goto(`${appUrl}${path}`);
  return page;
}
