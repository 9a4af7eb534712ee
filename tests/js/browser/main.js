// Entry point bundled by esbuild into the test page's one script; the tests call window.realClients.
import { startSnowplow } from './snowplow.js';
import { beaconEvent, fetchBatch, legacyBeacon } from './mediawiki.js';

window.realClients = { startSnowplow, beaconEvent, fetchBatch, legacyBeacon };
