"""Applying a proposal's diff in memory with git apply (bot/adapters/git/patch.py)."""

from __future__ import annotations

import subprocess

import pytest

from bot.adapters.git.patch import apply_diff, blob_sha
from bot.domain.diff import touched_files
from bot.domain.errors import ConflictError, InvalidInput

DIFF = """\
diff --git a/apps/a.yaml b/apps/a.yaml
--- a/apps/a.yaml
+++ b/apps/a.yaml
@@ -1,2 +1,2 @@
 kind: Deployment
-replicas: 2
+replicas: 4
diff --git a/apps/new.yaml b/apps/new.yaml
new file mode 100644
--- /dev/null
+++ b/apps/new.yaml
@@ -0,0 +1 @@
+kind: Service
diff --git a/apps/old.yaml b/apps/old.yaml
deleted file mode 100644
--- a/apps/old.yaml
+++ /dev/null
@@ -1 +0,0 @@
-kind: ConfigMap
"""


def test_modify_create_and_delete_in_memory() -> None:
    assert [(f.old, f.new) for f in touched_files(DIFF)] == [
        ("apps/a.yaml", "apps/a.yaml"),
        (None, "apps/new.yaml"),
        ("apps/old.yaml", None),
    ]
    originals = {
        "apps/a.yaml": b"kind: Deployment\nreplicas: 2\n",
        "apps/new.yaml": None,
        "apps/old.yaml": b"kind: ConfigMap\n",
    }
    assert apply_diff(DIFF, originals) == {
        "apps/a.yaml": b"kind: Deployment\nreplicas: 4\n",
        "apps/new.yaml": b"kind: Service\n",
        "apps/old.yaml": None,
    }


def test_a_stale_diff_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match="does not apply"):
        apply_diff(
            DIFF, {"apps/a.yaml": b"kind: Deployment\nreplicas: 3\n", "apps/old.yaml": b"kind: ConfigMap\n"}
        )


@pytest.mark.parametrize("path", ["../x.yaml", "/etc/passwd", "a/../../x", ".git/hooks/post-checkout", "~/x"])
def test_paths_outside_the_repository_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput):
        touched_files(
            f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n".replace("a//", "/").replace("b//", "/")
        )


def test_symlinks_and_headerless_diffs_are_refused() -> None:
    link = (
        "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n"
        "@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
    )
    with pytest.raises(InvalidInput, match="symbolic link"):
        apply_diff(link, {"l": None})
    with pytest.raises(InvalidInput, match="names no files"):
        touched_files("replicas: 3 -> 4")


def test_blob_sha_matches_git() -> None:
    content = b"apiVersion: v1\n"
    git = subprocess.run(["git", "hash-object", "--stdin"], input=content, capture_output=True, check=True)
    assert blob_sha(content) == git.stdout.decode().strip()
