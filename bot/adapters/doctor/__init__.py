"""The probes ``tugboat doctor`` runs: each talks to one real service with a short timeout."""
