"""Cases: the lifecycle, history, search and reads, likely duplicates and merges."""
