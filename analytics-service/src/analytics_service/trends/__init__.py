"""Trends: complaint counts per bucket and group, and the change against the window before."""
