"""The assistant: grounded explanations and conversations over an investigation report.

The model explains; it never acts. It may suggest a typed change, which deterministic code
validates; nothing here can merge or approve.
"""
