"""Wikimedia: EventGate (/v1/events) and legacy EventLogging beacons."""
