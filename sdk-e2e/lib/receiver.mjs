// A loopback webhook receiver: keeps every delivery's raw body and headers
// (the raw body is what the signature covers) and answers 204.
import http from 'node:http';

export async function startReceiver() {
  const deliveries = [];
  const waiters = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const d = { method: req.method, path: req.url, headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      if (req.method === 'POST' && req.url.startsWith('/hooks')) {
        deliveries.push(d);
        for (const w of waiters) w();
      }
      res.statusCode = req.method === 'POST' ? 204 : 200;
      res.end();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: `${base}/hooks`,
    returnUrl: `${base}/return`,
    deliveries,
    /** The first delivery for which pred(parsed body, delivery) holds. */
    async waitFor(what, pred, timeoutMs = 30000) {
      const find = () =>
        deliveries.find((d) => {
          try {
            return pred(JSON.parse(d.body), d);
          } catch {
            return false;
          }
        });
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = find();
        if (hit) return hit;
        const left = end - Date.now();
        if (left <= 0) {
          const seen = deliveries.map((d) => (d.body.length > 700 ? d.body.slice(0, 700) + '…' : d.body));
          throw new Error(`no ${what} delivered within ${timeoutMs} ms; ${deliveries.length} deliveries seen:\n  ` + seen.join('\n  '));
        }
        await new Promise((r) => {
          const t = setTimeout(r, Math.min(left, 500));
          waiters.add(() => { clearTimeout(t); r(); });
        });
        waiters.clear();
      }
    },
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
