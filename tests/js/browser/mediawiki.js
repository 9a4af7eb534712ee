// What MediaWiki's EventLogging and the Metrics Platform client send: sendBeacon and fetch to
// EventGate's /v1/events, and a legacy /beacon/event capsule.

/** navigator.sendBeacon(serviceUri, JSON.stringify(event)): the body goes as text/plain. */
export function beaconEvent(serviceUri, event) {
  return navigator.sendBeacon(serviceUri, JSON.stringify(event));
}

/**
 * A batch of events in one fetch POST; resolves to what the page could read of the answer.
 * `credentials` is fetch's option: EventGate answers `Access-Control-Allow-Origin: *`, so a
 * cross-origin fetch with credentials 'include' fails in production (and against snowcatcher).
 */
export async function fetchBatch(serviceUri, events, credentials = 'same-origin') {
  const answer = await fetch(serviceUri, {
    method: 'POST',
    body: JSON.stringify(events),
    headers: { 'Content-Type': 'application/json' },
    keepalive: true,
    credentials,
  });
  return { status: answer.status, statusText: answer.statusText, body: await answer.text() };
}

/** mw.eventLog.logEvent's legacy beacon: the capsule URL-encoded in the query, then ';'. */
export function legacyBeacon(baseUri, capsule) {
  return navigator.sendBeacon(`${baseUri}?${encodeURIComponent(JSON.stringify(capsule))};`);
}
