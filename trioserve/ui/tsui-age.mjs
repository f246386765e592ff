// How old a frame's data is, and when that counts as stale.
//
// A monitored picture that stopped changing looks exactly like a quiet detector; the age
// next to it, and a stale mark once the answers stop, are what tell the two apart. The page
// runs one ticker for all frames (App.tickAges) instead of a timer per frame.

/** "updated 0.8 s ago", "updated 12 s ago", "updated 3 min ago", "updated 2 h ago". */
export function formatAge(ms) {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `updated ${s.toFixed(1)} s ago`;
  if (s < 60) return `updated ${Math.floor(s)} s ago`;
  if (s < 3600) return `updated ${Math.floor(s / 60)} min ago`;
  return `updated ${Math.floor(s / 3600)} h ago`;
}

/**
 * How long without an answer a monitored frame may go before it is marked stale: three
 * intervals (one late answer is normal on a busy server), and never under two seconds.
 */
export function staleAfter(intervalMs) {
  return Math.max(2000, 3 * Math.max(100, Number(intervalMs) || 1000));
}

/** Whether a frame whose data is `ageMs` old is stale; only monitored frames can be. */
export function isStale(ageMs, monitoring, intervalMs) {
  return Boolean(monitoring) && ageMs > staleAfter(intervalMs);
}

/**
 * Whether a failed request means the server is unreachable (keep the picture and retry)
 * rather than that it answered with an error (show the error): a network failure, or a
 * front-end's 502/503/504 when the program behind it is gone.
 */
export function isConnectionLoss(err) {
  if (err instanceof TypeError) return true; // fetch() rejects with TypeError on network errors
  return [502, 503, 504].includes(err?.status);
}

/** The wait before the next retry: 0.5 s doubling up to 4 s, so a dead server is not hammered. */
export function retryDelay(attempt) {
  return Math.min(4000, 500 * 2 ** Math.max(0, attempt));
}
