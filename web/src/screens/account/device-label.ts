/**
 * A short, human label for the device a session was opened from ("Firefox on Linux"), derived
 * from its User-Agent header. Plain data (no DOM), so it is unit-tested. The label is a hint for
 * recognising one's own devices, not an identification: user agents can say anything.
 */

/** Browsers, most specific first (Edge and Opera also say "Chrome"; Chrome also says "Safari"). */
const BROWSERS: readonly (readonly [RegExp, string])[] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\bChromium\//, 'Chromium'],
  [/\b(?:HeadlessChrome|Chrome|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

/** Systems, most specific first (Android also says "Linux"; iOS also says "like Mac OS X"). */
const SYSTEMS: readonly (readonly [RegExp, string])[] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

function first(ua: string, table: readonly (readonly [RegExp, string])[]): string | undefined {
  return table.find(([re]) => re.test(ua))?.[1];
}

/** "Browser on System", one of the two, or a short fallback when neither is recognised. */
export function deviceLabel(userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return 'Unknown device';
  const browser = first(userAgent, BROWSERS);
  const system = first(userAgent, SYSTEMS);
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`;
  if (browser !== undefined) return browser;
  if (system !== undefined) return `A browser on ${system}`;
  const product = /^[A-Za-z][\w.-]{0,30}/.exec(userAgent.trim())?.[0];
  return product === undefined ? 'Unknown device' : product;
}
