"""Facts: complaint, case, decision, remedy and survey events projected into fact rows."""
