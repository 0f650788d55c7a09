// The client the seeds' samples call, built exactly as a Dodo Payments user
// builds it, pointed at coffer. The only addition is a recording fetch: every
// HTTP exchange is kept so that a failing check can print the request and
// the answer that broke it.
import DodoPayments from 'dodopayments';
export { DodoPayments };
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

for (const v of ['COFFER_URL', 'COFFER_API_KEY']) {
  if (!process.env[v]) {
    console.error(`sdk-e2e: ${v} is not set (run sdk-e2e/run.sh, or export COFFER_URL and COFFER_API_KEY for a running coffer serve)`);
    process.exit(2);
  }
}

/** Every HTTP exchange of this process, oldest first. */
export const transcript = [];

/** fetch, recorded in the transcript (the SDK's transport, and raw calls such as the payment link). */
export async function recordingFetch(url, init = {}) {
  const hdr = new Headers(init.headers ?? {});
  const e = {
    method: (init.method ?? 'GET').toUpperCase(),
    url: String(url),
    retry: hdr.get('x-stainless-retry-count'),
    reqBody: typeof init.body === 'string' ? init.body : init.body == null ? '' : '[' + typeof init.body + ' body]',
  };
  transcript.push(e);
  try {
    const res = await fetch(url, init);
    e.status = res.status;
    e.resHeaders = {};
    for (const h of ['content-type', 'x-should-retry', 'retry-after', 'retry-after-ms', 'x-request-id']) {
      if (res.headers.has(h)) e.resHeaders[h] = res.headers.get(h);
    }
    e.resBody = await res.clone().text();
    return res;
  } catch (err) {
    e.error = String(err?.cause ?? err);
    throw err;
  }
}

/** The seeds' client: `new DodoPayments({bearerToken, baseURL})`, nothing else. */
export const client = new DodoPayments({
  bearerToken: process.env.COFFER_API_KEY,
  baseURL: process.env.COFFER_URL,
  fetch: recordingFetch,
});

/** A tag unique to this run, for emails, names and idempotency keys. */
export const runTag = 'e2e' + randomBytes(5).toString('hex');

function cut(s, n = 1500) {
  return s.length > n ? s.slice(0, n) + `… (${s.length} bytes)` : s;
}

/** Formats HTTP exchanges for a failure message. */
export function formatExchanges(list) {
  return list
    .map((e) => {
      const path = e.url.replace(process.env.COFFER_URL.replace(/\/$/, ''), '');
      let s = `  > ${e.method} ${path}` + (e.retry && e.retry !== '0' ? `   (x-stainless-retry-count: ${e.retry})` : '');
      if (e.reqBody) s += `\n  > ${cut(e.reqBody)}`;
      if (e.error) s += `\n  < (no answer: ${e.error})`;
      else {
        s += `\n  < ${e.status} ${JSON.stringify(e.resHeaders)}`;
        if (e.resBody) s += `\n  < ${cut(e.resBody.trim())}`;
      }
      return s;
    })
    .join('\n');
}

/**
 * A test whose failure message ends with the HTTP exchanges it made (the
 * last `keep` of them), so a server-side failure names its request and
 * answer.
 */
export function check(name, fn, { keep = 4, ...opts } = {}) {
  return test(name, opts, async (t) => {
    const from = transcript.length;
    try {
      await fn(t);
    } catch (err) {
      const mine = transcript.slice(from);
      if (mine.length > 0) {
        const shown = mine.slice(-keep);
        const head = mine.length > keep ? `(last ${keep} of ${mine.length} requests)` : '';
        const orig = err.message;
        err.message = `${orig}\n-- HTTP ${head}\n${formatExchanges(shown)}`;
        // node prints the stack, which an AssertionError has already
        // rendered with the old message.
        if (typeof err.stack === 'string' && orig && err.stack.includes(orig)) err.stack = err.stack.replace(orig, err.message);
      }
      throw err;
    }
  });
}

/** The HTTP exchanges made by fn (and its result). */
export async function recorded(fn) {
  const from = transcript.length;
  const value = await fn();
  return { value, exchanges: transcript.slice(from) };
}

/** Calls fn until it returns a truthy value, or fails after timeoutMs. */
export async function poll(what, fn, { timeoutMs = 30000, everyMs = 200 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last?.done) return last.value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last?.seen ?? last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs fn with console.log captured; returns what it printed. */
export async function capturingConsole(fn) {
  const lines = [];
  const real = console.log;
  console.log = (...a) => lines.push(a.map(String).join(' '));
  try {
    const value = await fn();
    return { value, lines };
  } finally {
    console.log = real;
  }
}

/** Runs fn with Date.now() fixed at t. */
export async function atFixedNow(t, fn) {
  const real = Date.now;
  Date.now = () => t;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}
