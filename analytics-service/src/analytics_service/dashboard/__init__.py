"""The ops dashboard: static assets (HTML, script, style sheet) and their router in ``api.py``."""
