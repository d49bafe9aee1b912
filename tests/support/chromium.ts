import { chromium, type Browser } from 'playwright';
import { DEFAULT_CHROMIUM_ARGS } from '../../src/adapters/scrapers/browser-pool.js';

/** Debian's Chromium, headless, with the flags the worker's BrowserPool uses: what the console tests drive. */
export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: '/usr/bin/chromium', args: DEFAULT_CHROMIUM_ARGS });
