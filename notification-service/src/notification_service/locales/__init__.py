"""Customer languages and locales: fallback order, text direction, locale formats."""
