// Customers through the SDK: create, retrieve, update, list, with the
// contract's pagination (zero-based page_number, {"items": []} past the
// end) and the SDK's documented page-1 skip when no page_number is given.
import assert from 'node:assert/strict';
import DodoPayments from 'dodopayments';
import { client, runTag, check, recorded } from '../lib/client.mjs';

let ada;

check('customers.create', async () => {
  ada = await client.customers.create({
    email: `ada.${runTag}@example.com`, name: `Ada ${runTag}`, metadata: { plan: 'pro' }, phone_number: '+15551234567',
  });
  assert.match(ada.customer_id, /\S/);
  assert.equal(typeof ada.business_id, 'string');
  assert.ok(ada.business_id.length > 0, 'business_id');
  assert.ok(!Number.isNaN(Date.parse(ada.created_at)), 'created_at is ISO-8601');
  assert.equal(ada.email, `ada.${runTag}@example.com`);
  assert.equal(ada.name, `Ada ${runTag}`);
  assert.deepEqual(ada.metadata, { plan: 'pro' });
  assert.equal(ada.phone_number, '+15551234567');
});

check('customers.retrieve', async () => {
  const got = await client.customers.retrieve(ada.customer_id);
  for (const k of ['customer_id', 'business_id', 'created_at', 'email', 'name', 'phone_number']) assert.equal(got[k], ada[k], k);
  assert.deepEqual(got.metadata, ada.metadata);
});

check('customers.update (PATCH) changes only what it is given', async () => {
  const up = await client.customers.update(ada.customer_id, { name: `Ada Lovelace ${runTag}`, metadata: { plan: 'team' } });
  assert.equal(up.name, `Ada Lovelace ${runTag}`);
  assert.equal(up.email, ada.email, 'email unchanged');
  assert.equal(up.metadata.plan, 'team');
  const got = await client.customers.retrieve(ada.customer_id);
  assert.equal(got.name, `Ada Lovelace ${runTag}`);
  assert.equal(got.metadata.plan, 'team');
  assert.equal(got.created_at, ada.created_at);
});

check('customers.retrieve of an unknown id is a NotFoundError with a Dodo error body', async () => {
  await assert.rejects(client.customers.retrieve(`cus_missing_${runTag}`), (err) => {
    assert.ok(err instanceof DodoPayments.NotFoundError, `NotFoundError, got ${err.constructor.name}`);
    assert.equal(err.status, 404);
    assert.equal(typeof err.error?.code, 'string');
    assert.match(err.message, /^404 /);
    return true;
  });
});

check('customers.list by email finds exactly that customer', async () => {
  const found = [];
  for await (const c of client.customers.list({ email: ada.email, page_number: 0 })) found.push(c.customer_id);
  assert.deepEqual(found, [ada.customer_id]);
});

// Five customers sharing a name prefix, listed two per page: pages of
// 2, 2, 1, then {"items": []}.
const group = `Grp${runTag}`;
const ids = [];
let pages; // the item ids of each page, as served with explicit page numbers

check('customers.list: five customers, page by page with page_number: 0', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await client.customers.create({ email: `g${i}.${runTag}@example.com`, name: `${group} member ${i}` });
    ids.push(c.customer_id);
  }
  pages = [];
  let page = await client.customers.list({ name: group, page_size: 2, page_number: 0 });
  for (;;) {
    pages.push(page.items.map((c) => c.customer_id));
    if (!page.hasNextPage()) break;
    page = await page.getNextPage();
  }
  assert.deepEqual(pages.map((p) => p.length), [2, 2, 1, 0], 'pages of 2, 2, 1 and an empty page that stops the SDK');
  assert.deepEqual(new Set(pages.flat()), new Set(ids));
});

check('for await with page_number: 0 sees every customer exactly once', async () => {
  const { value: seen, exchanges } = await recorded(async () => {
    const seen = [];
    for await (const c of client.customers.list({ name: group, page_size: 2, page_number: 0 })) seen.push(c.customer_id);
    return seen;
  });
  assert.equal(seen.length, 5, `5 customers, saw ${seen.length}`);
  assert.deepEqual(new Set(seen), new Set(ids));
  const asked = exchanges.map((e) => new URL(e.url).searchParams.get('page_number'));
  assert.deepEqual(asked, ['0', '1', '2', '3']);
  assert.equal(exchanges.at(-1).status, 200);
  assert.deepEqual(JSON.parse(exchanges.at(-1).resBody).items, [], 'past the last page: 200 {"items": []}');
});

check('for await WITHOUT page_number: the SDK skips page 1 (contract §2a), nothing else is lost or repeated', async () => {
  const { value: seen, exchanges } = await recorded(async () => {
    const seen = [];
    for await (const c of client.customers.list({ name: group, page_size: 2 })) seen.push(c.customer_id);
    return seen;
  });
  const asked = exchanges.map((e) => new URL(e.url).searchParams.get('page_number'));
  assert.deepEqual(asked, [null, '2', '3'], 'the SDK asks page 0 (no page_number), then 2, then 3');
  assert.deepEqual(seen, [...pages[0], ...pages[2]], 'pages 0 and 2 as served, page 1 skipped by the SDK');
  // The documented remedy: pass page_number: 0 (previous check).
});

check('a page past the end is 200 {"items": []}, not a 404', async () => {
  const page = await client.customers.list({ name: group, page_size: 2, page_number: 99 });
  assert.deepEqual(page.items, []);
  assert.equal(page.hasNextPage(), false);
});
