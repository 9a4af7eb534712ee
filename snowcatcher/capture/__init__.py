"""Capture: the aiohttp intake, body limits, connections, forwarding and requests no route takes."""
