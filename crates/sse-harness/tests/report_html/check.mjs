// Opens the conformance report (index.html, from disk) in headless Chromium, counts the matrix
// cells per implementation and outcome, checks no detail panel shows, takes a screenshot, opens
// the first fail cell of one implementation and the first case it lists, reads what the case's
// detail shows, and prints it all as JSON. Usage: node check.mjs INDEX_HTML CHROMIUM OUT_DIR IMPLEMENTATION
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [index, executablePath, outDir, implementation] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(pathToFileURL(index).href);

  const counts = await page.$$eval("td[data-outcome]", (cells) => {
    const counts = {};
    for (const td of cells) {
      const per = (counts[td.dataset.implementation] ??= {});
      per[td.dataset.outcome] = (per[td.dataset.outcome] ?? 0) + 1;
    }
    return counts;
  });
  const panelsShownBefore = await page.$$eval(".panel",
    (panels) => panels.filter((p) => getComputedStyle(p).display !== "none").length);
  await page.screenshot({ path: join(outDir, "index.png"), fullPage: true });

  const cell = page.locator(`td[data-outcome="fail"][data-implementation="${implementation}"]`).first();
  const requirement = await cell.getAttribute("data-requirement");
  await cell.locator("a").click();
  // The cell lists its cases; the first opens its detail.
  const list = page.locator(".panel:target");
  await list.waitFor({ state: "visible", timeout: 5000 });
  const listed = await list.locator("article.case h3 a").count();
  await list.locator("article.case h3 a").first().click();
  const panel = page.locator(".panel:target");
  await panel.waitFor({ state: "visible", timeout: 5000 });
  const visibleIn = (selector) => panel.locator(selector).evaluateAll((els) =>
    els.filter((el) => el.getBoundingClientRect().width > 0 && getComputedStyle(el).display !== "none").length);
  const opened = {
    requirement,
    listed,
    visible: await panel.isVisible(),
    expected: await visibleIn(".trace.expected"),
    observed: await visibleIn(".trace.observed"),
    svgs: await visibleIn("svg.timeline"),
    messages: await visibleIn("table.messages"),
    bytes: await visibleIn("pre.bytes"),
    highlighted: await visibleIn(".trace li.div"),
  };
  await page.screenshot({ path: join(outDir, "index-detail.png") });

  const boldElements = await page.$$eval("b", (els) => els.length);
  const hostileShown = await page.evaluate(() => document.body.textContent.includes("</script><b>x"));
  console.log(JSON.stringify({ counts, panelsShownBefore, opened, boldElements, hostileShown }));
} finally {
  await browser.close();
}
