"""The domain: plain, validated data with no I/O."""
