"""Manifest editing: byte-exact value edits of GitOps manifests, and where a value is effectively defined."""
