"""The sync engine: everything here copies a Page's conversations and imports no UI code."""
