"""Pure helpers of alert intake: the dedup key of a notification, alert fingerprints, durations."""

from __future__ import annotations

import hashlib

from bot.domain.alert import AlertGroup


def notification_key(group: AlertGroup) -> str:
    """Identical for a re-sent notification; different when any alert starts, stops or joins."""
    parts = sorted(f"{a.fingerprint}|{a.status}|{a.starts_at}|{a.ends_at}" for a in group.alerts)
    digest = hashlib.sha256("\n".join([group.group_key, group.status, *parts]).encode()).hexdigest()
    return f"alert:{digest}"


def fingerprints(group: AlertGroup) -> list[str]:
    return [a.fingerprint or hashlib.sha256(repr(sorted(a.labels.items())).encode()).hexdigest()[:16]
            for a in group.alerts]  # fmt: skip


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text if days or hours else (f"{text} {secs}s".strip() if secs or not text else text)
