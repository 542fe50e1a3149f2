"""SLAs: business calendars, the three clocks of a case, policies and the deadline timer."""
