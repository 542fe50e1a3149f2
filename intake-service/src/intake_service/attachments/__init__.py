"""Attachments: the files that came with a complaint or a customer message."""
