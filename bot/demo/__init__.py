"""The embedded demo incident and its runner (``tugboat demo``)."""
