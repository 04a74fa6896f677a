// Opens the reference server's page in headless Chromium, starts every stream, waits until
// each shows at least MIN_ID events, stops one and starts it again (resume), and prints what
// the DOM shows as JSON. Usage: node page.mjs URL CHROMIUM SCREENSHOT
import { chromium } from "playwright-core";

const [url, executablePath, screenshot] = process.argv.slice(2);
const MIN_ID = 3;
const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.click("#start-all");
  const allAtLeast = (min) => page.waitForFunction((min) =>
    [...document.querySelectorAll("[id^=id-]")].every((el) => Number(el.textContent) >= min), min,
    { timeout: 15000 });
  await allAtLeast(MIN_ID);
  // Stop stream 1, then start it again: it resumes after the last id it showed.
  const toggle = page.locator(".stream").first().locator(".toggle");
  await toggle.click();
  const stoppedAt = Number(await page.textContent("#id-1"));
  // Record the first id shown after the restart.
  await page.evaluate(() => {
    window.firstAfterRestart = null;
    const el = document.querySelector("#id-1");
    new MutationObserver(() => { window.firstAfterRestart ??= Number(el.textContent); })
      .observe(el, { childList: true, characterData: true, subtree: true });
  });
  await toggle.click();
  await page.waitForFunction((last) => Number(document.querySelector("#id-1").textContent) > last, stoppedAt,
    { timeout: 15000 });
  const resumedAt = await page.evaluate(() => window.firstAfterRestart);
  const rows = await page.$$eval(".stream", (divs) => divs.map((_, i) => ({
    n: i + 1,
    id: Number(document.querySelector(`#id-${i + 1}`).textContent),
    value: document.querySelector(`#value-${i + 1}`).textContent,
    state: document.querySelector(`#state-${i + 1}`).textContent,
  })));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ rows, stoppedAt, resumedAt }));
} finally {
  await browser.close();
}
