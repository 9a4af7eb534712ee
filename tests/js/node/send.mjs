// The official Node tracker sending structured and self-describing events in batches of three.
// Usage: node send.mjs <collector port> <base64: true|false>; prints a JSON report on stdout.
import { buildSelfDescribingEvent, buildStructEvent, newTracker } from '@snowplow/node-tracker';

const [port, base64] = process.argv.slice(2);
const report = { batches: [], failures: [] };
let answered = () => {};
const tracker = newTracker(
  { namespace: 'backend', appId: 'snowcatcher-node', encodeBase64: base64 === 'true' },
  {
    endpoint: '127.0.0.1',
    port: Number(port),
    protocol: 'http',
    bufferSize: 3,
    onRequestSuccess: (batch) => { report.batches.push(batch.length); answered(); },
    onRequestFailure: (failure) => {
      report.failures.push({ status: failure.status, message: failure.message,
        events: failure.events.length });
      answered();
    },
  },
);

const context = [{ schema: 'iglu:com.gitlab/gitlab_standard/jsonschema/1-1-8',
  data: { environment: 'development', source: 'gitlab-rails', realm: 'self-managed' } }];
const events = [];
for (let n = 1; n <= 3; n += 1) {
  events.push(buildStructEvent({ category: 'Projects::PipelinesController', action: 'run',
    label: `pipeline-${n}`, value: n }));
  events.push(buildSelfDescribingEvent({ event: {
    schema: 'iglu:com.acme/email_sent/jsonschema/1-0-0',
    data: { emailAddress: `user${n}@example.com`, emailAddress2: 'ops@example.com' } } }));
}
// The third event fills the buffer and the tracker sends the batch by itself; the next three wait
// for its answer, so each POST body holds exactly three events.
for (const batch of [events.slice(0, 3), events.slice(3)]) {
  const done = new Promise((resolve) => { answered = resolve; });
  for (const event of batch) tracker.track(event, context);
  await done;
}
await tracker.flush();
// Exit at once rather than wait for fetch's idle keep-alive connection to time out.
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
