"""The use cases: process a file, send a campaign, apply profile rows."""
