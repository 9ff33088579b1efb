// The demo shop's shipped journeys (journeys/demo-shop.yaml, journeys/demo-shop-card.yaml)
// written for Playwright: the same steps, in the same order, with real clicks and typing.
// Run by scripts/bench-peers, which installs playwright-core into target/peers.
//   node playwright.cjs JOURNEY BASE_URL      (JOURNEY: gift or card)
// Prints one JSON object: session_start_ms, steps [{step, duration_ms}], ok, error.
// Drives Debian's Chromium (/usr/bin/chromium, or $PEERS_CHROMIUM) with the flags shopwatch
// gives Chromium, headless, 1280x800.
'use strict';
const path = require('path');
const modules = process.env.PEERS_NODE_MODULES || path.join(__dirname, '../../target/peers/node_modules');
const { chromium } = require(path.resolve(modules, 'playwright-core'));

const [journey, base] = process.argv.slice(2);
const STEP_TIMEOUT = 15000;
// shopwatch's poll interval for its waits and web-first assertions.
const POLL = 100;
const email = process.env.DEMO_SHOP_EMAIL || 'shopper@example.com';
const password = process.env.DEMO_SHOP_PASSWORD || 'demo-password-123';
const giftcard = process.env.DEMO_SHOP_GIFT_CARD || 'GIFT-1000-AAAA';
const card = process.env.DEMO_SHOP_CARD || '4000000000003220';
const adminToken = process.env.DEMO_SHOP_ADMIN_TOKEN || 'demo-admin-token';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Looks again every POLL ms until `check` returns true (a web-first assertion).
async function until(what, check, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() + POLL > deadline) throw new Error(`${what}: timed out${last ? `: ${last.message}` : ''}`);
    await sleep(POLL);
  }
}

const textOf = (loc) => loc.first().innerText({ timeout: 0 });

async function type(loc, value) {
  await loc.clear();
  await loc.pressSequentially(value);
}

// wait_for { selector, text }: some matching element's text contains `text`.
async function waitForText(page, selector, text) {
  await until(`wait_for ${selector} ${text}`, async () => {
    for (const t of await page.locator(selector).allInnerTexts()) if (t.includes(text)) return true;
    return false;
  });
}

async function giftSteps(page, step) {
  let order;
  await step('browse', async () => {
    await page.goto(base + '/');
    // Optional: accept the cookie banner when it shows within 500 ms.
    const accept = page.locator('#cookie-accept');
    if (await accept.waitFor({ state: 'visible', timeout: 500 }).then(() => true, () => false)) {
      await accept.click();
    }
    await page.locator("a.category[href='/category/coffee']").first().click();
    await page.locator('.product-card').first().waitFor({ state: 'attached' });
    await until('h1 contains Coffee', async () => (await textOf(page.locator('h1'))).includes('Coffee'));
    await page.locator('a:text-is("Ethiopia Yirgacheffe")').first().click();
    await until('h1.product-name', async () => (await textOf(page.locator('h1.product-name'))).trim() === 'Ethiopia Yirgacheffe');
  });
  await step('add-to-cart', async () => {
    await page.locator('#add-to-cart').click();
    await waitForText(page, '.cart-count', '1');
    await page.locator('.added-message').first().waitFor({ state: 'visible' });
  });
  await step('login', async () => {
    await page.goto(base + '/login?next=/cart');
    await type(page.locator('#email'), email);
    await type(page.locator('#password'), password);
    await page.locator('#login-button').click();
    await page.waitForURL((u) => u.pathname === '/cart');
    await until('one cart line', async () => (await page.locator('tr.cart-line').count()) === 1);
  });
  await step('checkout', async () => {
    await page.locator('#checkout').click();
    await page.locator('#shipping-form').waitFor({ state: 'attached' });
    await type(page.locator('#name'), 'Sam Shopper');
    await type(page.locator('#street'), 'Hauptstrasse 1');
    await type(page.locator('#city'), 'Berlin');
    await type(page.locator('#postcode'), '10115');
    // The country picker is a custom list (ARIA combobox): open it, click the option.
    await page.locator('#country').click();
    await page.locator('#country-list [role=option][data-value="DE"]').click();
    await page.locator('#shipping-express').check();
    await page.locator('#continue').click();
    await page.locator('.review-total').first().waitFor({ state: 'attached' });
    await until('shipping Express', async () => (await textOf(page.locator('.review-shipping'))).includes('Express'));
  });
  await step('gift-card-payment', async () => {
    await type(page.locator('#gift-card'), giftcard);
    await page.locator('#pay').click();
    await until('no payment error', async () => (await page.locator('.payment-error').count()) === 0);
    await page.locator('.order-confirmation').first().waitFor({ state: 'attached' });
    order = (await textOf(page.locator('.order-number'))).trim();
    if (!/^SW-[0-9]{6}$/.test(order)) throw new Error(`order number ${order}`);
  });
  return order;
}

async function cardSteps(page, step) {
  let order;
  await step('browse', async () => {
    await page.goto(base + '/product/ethiopia-yirgacheffe');
    const banner = page.locator('#cookie-banner');
    if (await banner.waitFor({ state: 'visible', timeout: 500 }).then(() => true, () => false)) {
      await page.locator('#cookie-accept').click();
      await until('banner gone', async () => (await banner.count()) === 0);
    }
    await until('h1.product-name', async () => (await textOf(page.locator('h1.product-name'))).trim() === 'Ethiopia Yirgacheffe');
  });
  await step('add-to-cart', async () => {
    await page.locator('#add-to-cart').click();
    await waitForText(page, '.cart-count', '1');
  });
  await step('login', async () => {
    await page.goto(base + '/login?next=/cart');
    await type(page.locator('#email'), email);
    await type(page.locator('#password'), password);
    await page.locator('#login-button').click();
    await page.waitForURL((u) => u.pathname === '/cart');
  });
  await step('checkout', async () => {
    await page.locator('#checkout').click();
    await type(page.locator('#name'), 'Sam Shopper');
    await type(page.locator('#street'), 'Hauptstrasse 1');
    await type(page.locator('#city'), 'Berlin');
    await type(page.locator('#postcode'), '10115');
    // The country picker is a custom list (ARIA combobox): open it, click the option.
    await page.locator('#country').click();
    await page.locator('#country-list [role=option][data-value="DE"]').click();
    await page.locator('#shipping-standard').check();
    await page.locator('#continue').click();
    await page.locator('.review-total').first().waitFor({ state: 'attached' });
  });
  await step('card-payment', async () => {
    const form = page.frameLocator('iframe#card-frame');
    await type(form.frameLocator('iframe[name=card-number]').locator('#card-number'), card);
    await type(form.locator('#expiry'), '12/34');
    await type(form.locator('#cvc'), '123');
    await form.locator('#card-pay').click();
    await form.locator('.card-status').first().waitFor({ state: 'visible' });
    // The 3-D Secure window: looked for among the open windows, as shopwatch does.
    let popup;
    await until('3-D Secure window', async () => {
      popup = page.context().pages().find((p) => p.url().includes('/demopay/3ds/'));
      return !!popup;
    });
    await until('challenge amount', async () => /^€[0-9]+\.[0-9]{2}$/.test(await textOf(popup.locator('.challenge-amount'))));
    await type(popup.locator('#otp'), '123456');
    await popup.locator('#otp-submit').click();
    await until('one window', async () => page.context().pages().length === 1);
    await page.locator('.order-confirmation').first().waitFor({ state: 'attached' });
    await until('paid by card', async () => (await textOf(page.locator('.order-payment'))).includes('card ending 3220'));
    order = (await textOf(page.locator('.order-number'))).trim();
  });
  return order;
}

async function main() {
  const out = { tool: 'playwright', browser: 'chrome', journey, steps: [], ok: true };
  const t0 = performance.now();
  const browser = await chromium.launch({
    executablePath: process.env.PEERS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--window-size=1280,943',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    out.session_start_ms = performance.now() - t0;
    const step = async (name, body) => {
      const s = performance.now();
      try {
        await body();
      } finally {
        out.steps.push({ step: name, duration_ms: performance.now() - s });
      }
    };
    let order;
    try {
      order = journey === 'card' ? await cardSteps(page, step) : await giftSteps(page, step);
    } catch (e) {
      out.ok = false;
      out.error = String(e && e.message ? e.message : e).split('\n')[0];
    }
    await step('cancel-test-order', async () => {
      if (!order) return;
      const r = await fetch(`${base}/api/orders/${order}/cancel`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      if (r.status !== 200) throw new Error(`cancel answered ${r.status}`);
    });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
