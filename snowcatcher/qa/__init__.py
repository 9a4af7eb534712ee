"""QA: `snowcatcher expect` and the checks it and the wait API share."""
