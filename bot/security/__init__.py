"""Safety enforced in code: secret redaction and fencing of untrusted text."""
