"""Plumbing every command needs: the one user-facing error, file writing, processes, progress, the Hub probe,
the allocator setting. Nothing here knows about models or settings.

May import: nothing of s2sa (the standard library, rich)."""
