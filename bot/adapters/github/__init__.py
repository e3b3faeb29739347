"""GitHub as the change host: pull requests, pinned merges, App or token auth."""
