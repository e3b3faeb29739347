"""Test doubles and harnesses shared by tests/ and bench/: a real Prometheus and Alertmanager,
databases, git remotes, a recording Slack Web API, signed Slack requests, a fake OpenAI server, OpenAI
cassettes, sample reports and `tugboat serve` as a process. Never imported by bot/; never imports tests/."""
