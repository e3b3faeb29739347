"""Git: the GitOps repository's history, and the plain-git change host."""
