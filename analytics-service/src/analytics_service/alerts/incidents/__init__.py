"""Incidents: a spike of similar complaints raised as one alert with its members."""
