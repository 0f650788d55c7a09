// The "Customer Wallets" page's samples (seeds/customer-wallets.mjs), each
// run through the SDK against coffer, with the balance each one must leave.
import assert from 'node:assert/strict';
import { client, runTag, check, recorded, capturingConsole, atFixedNow } from '../lib/client.mjs';
import {
  refundToWallet, addWelcomeBonus, deductForPurchase, addInitialFunds, applyBalanceToPurchase,
  monitorBalances, lowBalanceNotifications, fundUSD, fundINR, addFundsSafely, checkBalanceBeforeOperation,
} from '../seeds/customer-wallets.mjs';

async function newCustomer(label) {
  const c = await client.customers.create({ email: `${label}.${runTag}@example.com`, name: `Wallet ${label} ${runTag}` });
  assert.match(c.customer_id, /\S/, 'customer_id');
  return c.customer_id;
}

async function usd(customerId) {
  const w = await client.customers.wallets.list(customerId);
  assert.ok(Array.isArray(w.items), 'wallets.list answers {items: [...]}');
  return w.items.find((x) => x.currency === 'USD')?.balance ?? 0;
}

let cust; // the customer of the refund/bonus/purchase sequence

check('refundToWallet credits the refund to the USD wallet', async () => {
  cust = await newCustomer('refund');
  await refundToWallet(cust, 2500, `pay_${runTag}`);
  assert.equal(await usd(cust), 2500);
  // The answer of ledgerEntries.create is the updated wallet (Dodo's CustomerWallet).
  const entries = [];
  for await (const e of client.customers.wallets.ledgerEntries.list(cust, { currency: 'USD', page_number: 0 })) entries.push(e);
  assert.equal(entries.length, 1, 'one ledger entry');
  const [e] = entries;
  assert.equal(e.amount, 2500);
  assert.equal(e.is_credit, true);
  assert.equal(e.before_balance, 0);
  assert.equal(e.after_balance, 2500);
  assert.equal(e.currency, 'USD');
  assert.equal(e.customer_id, cust);
  assert.equal(e.event_type, 'merchant_adjustment');
  assert.equal(e.reason, `Refund for payment pay_${runTag}`);
});

check('refundToWallet for the same payment again is refused (409), balance unchanged', async () => {
  const { exchanges } = await recorded(() =>
    refundToWallet(cust, 2500, `pay_${runTag}`).then(
      () => assert.fail('a second refund with the same idempotency_key succeeded'),
      (err) => {
        assert.equal(err.status, 409);
        assert.equal(err.constructor.name, 'ConflictError');
      },
    ),
  );
  assert.equal(exchanges.length, 1, 'the 409 must carry x-should-retry: false, so the SDK does not resend it');
  assert.equal(await usd(cust), 2500);
});

check('addWelcomeBonus adds $10.00', async () => {
  await addWelcomeBonus(cust);
  assert.equal(await usd(cust), 3500);
});

check('deductForPurchase with more than the balance takes the 400 branch', async () => {
  const { lines } = await capturingConsole(() => deductForPurchase(cust, 999999, `big_${runTag}`));
  assert.deepEqual(lines, ['Insufficient wallet balance'], 'the sample logs its 400 branch');
  assert.equal(await usd(cust), 3500, 'nothing was debited');
});

check('deductForPurchase within the balance debits it', async () => {
  const { lines, value } = await capturingConsole(() => deductForPurchase(cust, 500, `small_${runTag}`));
  assert.equal(value, undefined);
  assert.deepEqual(lines, [], 'no error branch');
  assert.equal(await usd(cust), 3000);
});

check('checkBalanceBeforeOperation: enough passes, too much throws', async () => {
  assert.equal(await checkBalanceBeforeOperation(cust, 3000), 3000);
  await assert.rejects(checkBalanceBeforeOperation(cust, 3001), /Insufficient funds for this operation/);
});

check('prepaid: deposit, debit, and the low-balance check', async () => {
  const c = await newCustomer('prepaid');
  await addInitialFunds(c, `dep_${runTag}`);
  assert.equal(await usd(c), 5000);
  await applyBalanceToPurchase(c, `p1_${runTag}`);
  assert.equal(await usd(c), 3500);
  await monitorBalances(c);
  assert.deepEqual(lowBalanceNotifications.filter((n) => n.customerId === c), [], '$35.00 is not low');
  await applyBalanceToPurchase(c, `p2_${runTag}`);
  await applyBalanceToPurchase(c, `p3_${runTag}`);
  assert.equal(await usd(c), 500);
  await monitorBalances(c);
  assert.deepEqual(lowBalanceNotifications.filter((n) => n.customerId === c), [{ customerId: c, balance: 500 }]);
  // A fourth $15 purchase exceeds $5: the bare sample (no try/catch) throws the SDK's 400.
  await assert.rejects(applyBalanceToPurchase(c, `p4_${runTag}`), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.constructor.name, 'BadRequestError');
    assert.equal(typeof err.error?.code, 'string', 'Dodo error body {code, message}');
    return true;
  });
  assert.equal(await usd(c), 500);
});

check('USD and INR funding: one wallet per currency', async () => {
  const c = await newCustomer('multi');
  await fundUSD(c, `u_${runTag}`);
  await fundINR(c, `i_${runTag}`);
  const w = await client.customers.wallets.list(c);
  const by = Object.fromEntries(w.items.map((x) => [x.currency, x]));
  assert.equal(by.USD?.balance, 20000, 'USD wallet');
  assert.equal(by.INR?.balance, 1500000, 'INR wallet');
  for (const x of [by.USD, by.INR]) {
    assert.equal(x.customer_id, c);
    assert.ok(!Number.isNaN(Date.parse(x.created_at)) && !Number.isNaN(Date.parse(x.updated_at)), 'ISO timestamps');
  }
  assert.equal(typeof w.total_balance_usd, 'number');
  assert.ok(w.total_balance_usd >= 20000, 'total_balance_usd counts the USD wallet');
  const inr = [];
  for await (const e of client.customers.wallets.ledgerEntries.list(c, { currency: 'INR', page_number: 0 })) inr.push(e);
  assert.deepEqual(inr.map((e) => [e.currency, e.amount, e.is_credit]), [['INR', 1500000, true]]);
});

check('addFundsSafely twice for the same event: the second is duplicate:true, credited once', async () => {
  const c = await newCustomer('safe');
  // The sample's key is `${reason}_${customerId}_${Date.now()}`: the same
  // event retried within one millisecond reuses it. Date.now is pinned so
  // the second call is that retry.
  const t = Date.now();
  const first = await atFixedNow(t, () => addFundsSafely(c, 700, 'topup'));
  assert.equal(first.success, true);
  assert.equal(first.duplicate, undefined);
  assert.equal(first.wallet.balance, 700, 'the answer is the updated wallet');
  assert.equal(first.wallet.currency, 'USD');
  const { value: second, exchanges } = await recorded(() => atFixedNow(t, () => addFundsSafely(c, 700, 'topup')));
  assert.deepEqual(second, { success: true, wallet: null, duplicate: true });
  assert.equal(exchanges.length, 1, 'one request: the 409 says x-should-retry: false');
  assert.equal(exchanges[0].resHeaders['x-should-retry'], 'false');
  assert.equal(await usd(c), 700, 'credited once');
  // A later call (another millisecond, another key) is a new credit.
  const third = await atFixedNow(t + 1, () => addFundsSafely(c, 700, 'topup'));
  assert.equal(third.wallet.balance, 1400);
});
