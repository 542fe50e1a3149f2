"""Channels: one draft per channel (JSON API, phone, chat, social) and one submission path for all."""
