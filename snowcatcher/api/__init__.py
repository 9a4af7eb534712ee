"""The read and control API: snowcatcher's endpoints, Snowplow Micro's, access rules, files in and out."""
