"""GitLab knowledge without Rails: event and metric definitions, findings, and the metrics an event feeds."""
