// The code samples of Dodo Payments' "Customer Wallets" page
// (/work/shared/seeds/customer-wallets.zh.txt), copied verbatim. The
// samples use a module-level `client`; that is lib/client.mjs's
// `new DodoPayments({bearerToken: COFFER_API_KEY, baseURL: COFFER_URL})`.
//
// Where a sample is a bare snippet (the prepaid steps, the multi-currency
// deposits) it is wrapped in a function whose parameters are the snippet's
// free variables (customerId, paymentId, purchaseId); the snippet's lines
// are unchanged. `sendLowBalanceNotification` is the one function the page
// leaves to the reader: here it records its calls.
import { client } from '../lib/client.mjs';

export const lowBalanceNotifications = [];
async function sendLowBalanceNotification(customerId, balance) {
  lowBalanceNotifications.push({ customerId, balance });
}

// ---- 退款至钱包 (refund to wallet) -------------------------------------------
export async function refundToWallet(customerId, refundAmount, originalPaymentId) {
  await client.customers.wallets.ledgerEntries.create(customerId, {
    amount: refundAmount, // Amount in cents
    currency: 'USD',
    entry_type: 'credit',
    reason: `Refund for payment ${originalPaymentId}`,
    idempotency_key: `refund_${originalPaymentId}`
  });
}

// ---- 欢迎奖励 / 促销余额 (welcome bonus) --------------------------------------
export async function addWelcomeBonus(customerId) {
  await client.customers.wallets.ledgerEntries.create(customerId, {
    amount: 1000, // $10.00 promotional balance
    currency: 'USD',
    entry_type: 'credit',
    reason: 'Welcome bonus - $10 promotional balance',
    idempotency_key: `welcome_${customerId}`
  });
}

// ---- 从钱包支付订阅 (pay from the wallet) -------------------------------------
export async function deductForPurchase(customerId, purchaseAmount, purchaseId) {
  try {
    await client.customers.wallets.ledgerEntries.create(customerId, {
      amount: purchaseAmount,
      currency: 'USD',
      entry_type: 'debit',
      reason: `Subscription charge - monthly billing`,
      idempotency_key: `charge_${purchaseId}`
    });
  } catch (error) {
    if (error.status === 400) {
      console.log('Insufficient wallet balance');
    }
  }
}

// ---- 预付计费系统 (prepaid billing), step 1: Add Initial Funds ----------------
export async function addInitialFunds(customerId, paymentId) {
await client.customers.wallets.ledgerEntries.create(customerId, {
  amount: 5000, // $50.00 deposit
  currency: 'USD',
  entry_type: 'credit',
  reason: 'Account funding - prepaid deposit',
  idempotency_key: `deposit_${paymentId}`
});
}

// ---- step 2: Apply Balance to Purchases -------------------------------------
export async function applyBalanceToPurchase(customerId, purchaseId) {
await client.customers.wallets.ledgerEntries.create(customerId, {
  amount: 1500, // $15.00 charge
  currency: 'USD', 
  entry_type: 'debit',
  reason: 'Service purchase - monthly subscription',
  idempotency_key: `purchase_${purchaseId}`
});
}

// ---- step 3: Monitor Balances -----------------------------------------------
export async function monitorBalances(customerId) {
const wallets = await client.customers.wallets.list(customerId);
const usdWallet = wallets.items.find(w => w.currency === 'USD');
const balance = usdWallet.balance;

if (balance < 1000) { // Less than $10.00
  // Send low balance notification
  await sendLowBalanceNotification(customerId, balance);
}
}

// ---- 多币种支持 (multi-currency): USD -----------------------------------------
export async function fundUSD(customerId, paymentId) {
await client.customers.wallets.ledgerEntries.create(customerId, {
  amount: 20000, // $200.00 in cents
  currency: 'USD',
  entry_type: 'credit',
  reason: 'USD account funding',
  idempotency_key: `usd_deposit_${paymentId}`
});
}

// ---- 多币种支持 (multi-currency): INR -----------------------------------------
export async function fundINR(customerId, paymentId) {
await client.customers.wallets.ledgerEntries.create(customerId, {
  amount: 1500000, // Rs 15,000 in paise
  currency: 'INR',
  entry_type: 'credit',
  reason: 'INR account funding',
  idempotency_key: `inr_deposit_${paymentId}`
});
}

// ---- 防止重复交易 (prevent duplicate transactions) ----------------------------
export async function addFundsSafely(customerId, amount, reason) {
  const idempotencyKey = `${reason}_${customerId}_${Date.now()}`;
  
  try {
    const result = await client.customers.wallets.ledgerEntries.create(customerId, {
      amount: amount,
      currency: 'USD',
      entry_type: 'credit',
      reason: reason,
      idempotency_key: idempotencyKey
    });
    
    return { success: true, wallet: result };
  } catch (error) {
    if (error.status === 409) {
      // Transaction already processed
      return { success: true, wallet: null, duplicate: true };
    }
    
    throw error;
  }
}

// ---- 计费前检查余额 (check the balance before an operation) --------------------
export async function checkBalanceBeforeOperation(customerId, requiredAmount) {
  const wallets = await client.customers.wallets.list(customerId);
  const usdWallet = wallets.items.find(w => w.currency === 'USD');
  
  if (!usdWallet || usdWallet.balance < requiredAmount) {
    throw new Error('Insufficient funds for this operation');
  }
  
  return usdWallet.balance;
}
