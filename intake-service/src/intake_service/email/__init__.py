"""E-mail: MIME parsing, forwarded-message unwrapping, reply threading, the HTTP and SMTP edges."""
