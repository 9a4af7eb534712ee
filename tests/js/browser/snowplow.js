// The official browser tracker sending a page view, a structured event, a self-describing event
// with two contexts and a link click; resolves once the tracker says each request was answered.
import {
  newTracker,
  trackPageView,
  trackSelfDescribingEvent,
  trackStructEvent,
} from '@snowplow/browser-tracker';
import {
  LinkClickTrackingPlugin,
  enableLinkClickTracking,
} from '@snowplow/browser-plugin-link-click-tracking';

const EXPECTED = 4;

/** Starts a tracker and sends everything but the link click, which the test clicks for real. */
export function startSnowplow({ collector, method }) {
  const report = { sent: 0, failures: [], method };
  let resolveAll;
  const allSent = new Promise((resolve) => { resolveAll = resolve; });
  const settle = () => {
    if (report.sent >= EXPECTED || report.failures.length) resolveAll(report);
  };
  newTracker('sp', collector, {
    appId: 'snowcatcher-browser',
    eventMethod: method,
    bufferSize: 1,
    contexts: { webPage: true, session: false },
    plugins: [LinkClickTrackingPlugin()],
    onRequestSuccess: (batch) => { report.sent += batch.length; settle(); },
    onRequestFailure: (failure) => {
      report.failures.push({ status: failure.status, message: failure.message,
        willRetry: failure.willRetry, events: failure.events.length });
      settle();
    },
  });
  enableLinkClickTracking();
  trackPageView({ title: 'Real clients' });
  trackStructEvent({ category: 'shop', action: 'add-to-basket', label: 'sku-42',
    property: 'red', value: 2.5 });
  trackSelfDescribingEvent({
    event: { schema: 'iglu:com.acme/email_sent/jsonschema/1-0-0',
      data: { emailAddress: 'ada@example.com', emailAddress2: 'grace@example.com' } },
    context: [
      { schema: 'iglu:com.gitlab/gitlab_standard/jsonschema/1-1-8',
        data: { environment: 'development', source: 'gitlab-javascript', realm: 'self-managed',
          extra: { from: 'browser' } } },
      { schema: 'iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-1-0',
        data: { latitude: 52.52, longitude: 13.405 } },
    ],
  });
  window.snowplowSent = allSent;
  return true;
}
