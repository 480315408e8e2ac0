"""Eligibility rules: the rule engine and its rule sets (TOML files a coordinator can read)."""
