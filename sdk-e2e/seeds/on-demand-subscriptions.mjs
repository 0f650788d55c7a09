// The calls of Dodo Payments' "On-demand subscriptions" page
// (/work/shared/seeds/on-demand-subscriptions.{ar,vi}.txt). The page's
// Node.js tabs did not survive in the seed text; what the text does say is
// kept exactly: POST /subscriptions with an `on_demand` object and
// `mandate_only: true`, `payment_link: true` and a `return_url`, the
// customer sent to `payment_link` to authorise the mandate; then POST
// /subscriptions/{id}/charge with `product_price` in minor units ("to charge
// $25.00, pass 2500"), optional product_currency, product_description and
// metadata; the outcome read from payment.succeeded / payment.failed
// webhooks. The call shapes below are the SDK's (dodopayments 2.52.0,
// SubscriptionCreateParams and SubscriptionChargeParams).
import { client } from '../lib/client.mjs';

// ---- Create an on-demand subscription --------------------------------------
export async function createOnDemandSubscription({ customerId, productId, returnUrl }) {
  const subscription = await client.subscriptions.create({
    billing: { city: 'San Francisco', country: 'US', state: 'CA', street: '1 Market St', zipcode: '94105' },
    customer: { customer_id: customerId },
    product_id: productId,
    quantity: 1,
    payment_link: true,
    return_url: returnUrl,
    on_demand: {
      mandate_only: true,
    },
  });
  // Redirect the customer to subscription.payment_link to authorise the mandate.
  return subscription;
}

// ---- Charge an on-demand subscription --------------------------------------
export async function chargeOnDemand(subscriptionId, orderId) {
  const charge = await client.subscriptions.charge(subscriptionId, {
    product_price: 2500, // $25.00
    product_currency: 'USD',
    product_description: 'Usage for this month',
    metadata: { order_id: orderId },
  });
  return charge.payment_id;
}
