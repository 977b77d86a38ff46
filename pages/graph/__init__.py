"""The Graph API client: the only code that talks to Facebook (no UI, no sync logic)."""
