// An on-demand subscription end to end, as the "On-demand subscriptions"
// page describes it: create with mandate_only and a payment link, the
// customer authorises the mandate on that link, the merchant charges a
// custom amount, the payment succeeds, and a signed payment.succeeded
// webhook arrives that the SDK's webhooks.unwrap() verifies.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { client, DodoPayments, runTag, check, poll, recordingFetch } from '../lib/client.mjs';
import { Webhook } from 'standardwebhooks';
import { randomBytes } from 'node:crypto';
import { startReceiver } from '../lib/receiver.mjs';
import { createOnDemandSubscription, chargeOnDemand } from '../seeds/on-demand-subscriptions.mjs';

const T = { timeout: 90000 };
let rx, hook, secret, product, cust, sub, paymentId;

before(async () => { rx = await startReceiver(); });
after(async () => {
  if (hook) await client.webhooks.delete(hook.id).catch(() => {});
  await rx?.close();
});

function needs(t, ...deps) {
  const missing = deps.filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length) { t.skip(`needs ${missing.join(', ')} (an earlier check failed)`); return false; }
  return true;
}

check('self-check (no server): the receiver and unwrap() accept a Standard Webhooks signature and reject a tampered body', async () => {
  // Proves the verification checks below can fail: a delivery signed here
  // with standardwebhooks (the library the SDK verifies with) goes through
  // the same receiver and the same unwrap() calls.
  const key = 'whsec_' + randomBytes(24).toString('base64');
  const body = JSON.stringify({ business_id: 'bus_x', type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { payment_id: 'pay_self', total_amount: 2500 } });
  const id = `msg_${runTag}`;
  const now = new Date();
  const res = await fetch(rx.url, { method: 'POST', body, headers: {
    'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now / 1000)),
    'webhook-signature': new Webhook(key).sign(id, now, body) } });
  assert.equal(res.status, 204);
  const d = await rx.waitFor('the self-signed delivery', (b) => b.data?.payment_id === 'pay_self', 5000);
  assert.equal(client.webhooks.unwrap(d.body, { headers: d.headers, key }).data.payment_id, 'pay_self');
  assert.throws(() => client.webhooks.unwrap(d.body.replace('"total_amount":2500', '"total_amount":1'), { headers: d.headers, key }),
    /No matching signature found/);
});

check('webhooks.create registers the loopback receiver; retrieveSecret gives its key', async () => {
  hook = await client.webhooks.create({
    url: rx.url,
    description: `sdk-e2e ${runTag}`,
    filter_types: ['payment.succeeded', 'payment.failed', 'subscription.active'],
    idempotency_key: `hook_${runTag}`,
  });
  assert.match(hook.id, /\S/, 'WebhookDetails.id');
  assert.equal(hook.url, rx.url);
  const got = await client.webhooks.retrieve(hook.id);
  assert.equal(got.url, rx.url);
  ({ secret } = await client.webhooks.retrieveSecret(hook.id));
  assert.equal(typeof secret, 'string');
  assert.ok(secret.length >= 24, 'a real key');
}, T);

check('a subscription product (recurring price) to subscribe to', async () => {
  product = await client.products.create({
    name: `On-demand plan ${runTag}`,
    tax_category: 'saas',
    price: {
      type: 'recurring_price', currency: 'USD', price: 0, discount: 0, purchasing_power_parity: false,
      payment_frequency_count: 1, payment_frequency_interval: 'Month',
      subscription_period_count: 1, subscription_period_interval: 'Month',
    },
  });
  assert.match(product.product_id, /\S/);
  assert.equal(product.is_recurring, true);
  cust = await client.customers.create({ email: `ondemand.${runTag}@example.com`, name: `On Demand ${runTag}` });
}, T);

check('subscriptions.create with on_demand.mandate_only and payment_link: true', async (t) => {
  if (!needs(t, ['product', product], ['customer', cust])) return;
  sub = await createOnDemandSubscription({ customerId: cust.customer_id, productId: product.product_id, returnUrl: rx.returnUrl });
  assert.match(sub.subscription_id, /\S/);
  assert.equal(typeof sub.payment_link, 'string', 'payment_link is returned when payment_link: true');
  assert.doesNotThrow(() => new URL(sub.payment_link, process.env.COFFER_URL));
  assert.equal(sub.customer?.customer_id, cust.customer_id);
  assert.equal(typeof sub.payment_id, 'string', 'SubscriptionCreateResponse.payment_id');
  const s = await client.subscriptions.retrieve(sub.subscription_id);
  assert.equal(s.status, 'pending', 'no mandate yet');
  assert.equal(s.on_demand, true);
}, T);

check('the customer approves the mandate on the payment link; the subscription becomes active', async (t) => {
  if (!needs(t, ['subscription', sub?.payment_link])) return;
  const link = new URL(sub.payment_link, process.env.COFFER_URL).href;
  const res = await recordingFetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ action: 'approve' }).toString(),
    redirect: 'manual',
  });
  assert.ok(res.status < 400, `POST ${link} action=approve answered ${res.status}`);
  const s = await poll('the subscription to become active', async () => {
    const s = await client.subscriptions.retrieve(sub.subscription_id);
    return { done: s.status === 'active', value: s, seen: { status: s.status } };
  });
  assert.equal(s.on_demand, true);
  assert.equal(s.customer.customer_id, cust.customer_id);
  assert.equal(s.product_id, product.product_id);
}, T);

check('subscriptions.charge → payment_id; payments.retrieve reaches succeeded', async (t) => {
  if (!needs(t, ['subscription', sub])) return;
  paymentId = await chargeOnDemand(sub.subscription_id, `ord_${runTag}`);
  assert.equal(typeof paymentId, 'string');
  assert.match(paymentId, /\S/);
  const p = await poll(`payment ${paymentId} to succeed`, async () => {
    const p = await client.payments.retrieve(paymentId);
    if (p.status === 'failed' || p.status === 'cancelled') throw new Error(`payment ${p.status}: ${p.error_code} ${p.error_message}`);
    return { done: p.status === 'succeeded', value: p, seen: { status: p.status } };
  });
  assert.equal(p.payment_id, paymentId);
  assert.equal(p.total_amount, 2500);
  assert.equal(p.currency, 'USD');
  assert.equal(p.subscription_id, sub.subscription_id);
  assert.equal(p.customer.customer_id, cust.customer_id);
  assert.equal(p.metadata?.order_id, `ord_${runTag}`);
}, T);

// The delivery is located by type and by the payment's id wherever it
// sits (Dodo's data.payment_id, or an id field), so that the signature is
// checked even when the envelope's shape is wrong; the shape is its own check.
const mentions = (b, id) => b.data?.payment_id === id || b.data?.subscription_id === id || b.data?.id === id;
let paid; // the payment.succeeded delivery

check('the payment.succeeded webhook verifies with webhooks.unwrap(); a tampered body throws', async (t) => {
  if (!needs(t, ['webhook secret', secret], ['payment', paymentId])) return;
  const d = await rx.waitFor(`payment.succeeded for ${paymentId}`, (b) => b.type === 'payment.succeeded' && mentions(b, paymentId));
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) assert.ok(d.headers[h], `header ${h}`);
  const event = client.webhooks.unwrap(d.body, { headers: d.headers, key: secret });
  assert.equal(event.type, 'payment.succeeded');
  paid = event;
  const tampered = d.body.replace('"type":"payment.succeeded"', '"type":"payment.failed"');
  assert.notEqual(tampered, d.body, 'the body carries "type":"payment.succeeded"');
  assert.throws(() => client.webhooks.unwrap(tampered, { headers: d.headers, key: secret }), /No matching signature found/);
  assert.throws(() => client.webhooks.unwrap(d.body, { headers: d.headers, key: 'whsec_' + Buffer.from('not the key at all!!').toString('base64') }),
    /No matching signature found/);
}, T);

check('the payment.succeeded envelope is Dodo\'s: {business_id, type, timestamp, data: Payment}', async (t) => {
  if (!needs(t, ['the payment.succeeded delivery', paid])) return;
  const shape = (o) => JSON.stringify(o).slice(0, 900);
  assert.equal(typeof paid.business_id, 'string', `envelope.business_id; got ${shape(paid)}`);
  assert.ok(!Number.isNaN(Date.parse(paid.timestamp)), 'timestamp is ISO-8601');
  assert.equal(paid.data.payment_id, paymentId, `data.payment_id (Dodo's Payment); got data ${shape(paid.data)}`);
  assert.equal(paid.data.total_amount, 2500, 'data.total_amount');
  assert.equal(paid.data.currency, 'USD');
  assert.equal(paid.data.status, 'succeeded');
  assert.equal(paid.data.subscription_id, sub.subscription_id);
  assert.equal(paid.data.customer?.customer_id, cust.customer_id, 'data.customer (CustomerLimitedDetails)');
}, T);

check('the subscription.active webhook verifies, and carries Dodo\'s Subscription', async (t) => {
  if (!needs(t, ['webhook secret', secret], ['subscription', sub])) return;
  const d = await rx.waitFor(`subscription.active for ${sub.subscription_id}`,
    (b) => b.type === 'subscription.active' && mentions(b, sub.subscription_id));
  const event = client.webhooks.unwrap(d.body, { headers: d.headers, key: secret });
  const shape = (o) => JSON.stringify(o).slice(0, 900);
  assert.equal(event.data.subscription_id, sub.subscription_id, `data.subscription_id; got data ${shape(event.data)}`);
  assert.equal(event.data.status, 'active');
  assert.equal(event.data.on_demand, true);
}, T);
