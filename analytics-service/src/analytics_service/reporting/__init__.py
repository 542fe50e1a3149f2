"""Reporting: the time window and CSV answer every analytics endpoint shares."""
